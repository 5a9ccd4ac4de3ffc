from agent.mqtt.topics import Topics


def test_topic_tree_under_the_configured_prefix() -> None:
    t = Topics.for_device("footfall/{site}/{device}", "store-042", "door-1")
    assert t.status == "footfall/store-042/door-1/status"
    assert t.interval("main") == "footfall/store-042/door-1/sensors/main/interval"
    assert t.state("main") == "footfall/store-042/door-1/sensors/main/state"
    assert t.anomaly("main") == "footfall/store-042/door-1/sensors/main/anomaly"
    assert t.health == "footfall/store-042/door-1/health"
    assert t.command == "footfall/store-042/door-1/command"
    assert t.command_response == "footfall/store-042/door-1/command/response"


def test_trailing_slash_in_prefix_is_ignored() -> None:
    assert Topics.for_device("shops/{site}/", "a", "b").status == "shops/a/status"
