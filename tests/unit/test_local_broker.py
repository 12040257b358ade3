import socket
from contextlib import closing
from pathlib import Path

from app.broker import (
    LocalBroker, LocalCluster, can_bind, fetch_jars, free_port_pair, new_cluster_id, port_is_open,
)


def broker(tmp_path: Path) -> LocalBroker:
    return LocalBroker(port=19500, data_dir=tmp_path / "kafka", cache_dir=tmp_path / "cache")


def test_one_node_is_broker_and_controller_on_loopback(tmp_path):
    props = broker(tmp_path).server_properties()
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19500,CONTROLLER://127.0.0.1:19501"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19501"


def test_internal_topics_fit_a_single_node(tmp_path):
    props = broker(tmp_path).server_properties()
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"


def test_a_completed_jar_cache_is_reused_without_maven(tmp_path, monkeypatch):
    libs = tmp_path / "cache" / "kafka-4.3.1" / "libs"
    libs.mkdir(parents=True)
    (libs / ".complete").touch()
    monkeypatch.setattr("shutil.which", lambda name: None)  # mvn would be needed otherwise
    assert fetch_jars(tmp_path / "cache") == libs


def test_a_new_cluster_id_never_looks_like_an_option(monkeypatch):
    # These 16 bytes encode to "-_-_...": StorageTool would take it for an option.
    ids = iter([bytes([0xFB, 0xFF, 0xBF]) * 5 + b"\x00", bytes(16)])
    monkeypatch.setattr("uuid.uuid4", lambda: type("U", (), {"bytes": next(ids)})())
    cluster = new_cluster_id()
    assert cluster == "AAAAAAAAAAAAAAAAAAAAAA"


def test_a_port_that_is_the_local_end_of_a_connection_is_not_free():
    # Nothing listens on it, yet a broker could not bind it (a test session's broker once failed
    # to start so).
    with closing(socket.socket()) as server, closing(socket.socket()) as client:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client.connect(server.getsockname())
        local_port = client.getsockname()[1]
        assert not port_is_open(local_port)
        assert not can_bind(local_port)
    assert can_bind(free_port_pair() + 1)


def test_a_cluster_is_three_nodes_in_one_static_quorum_with_replicated_internal_topics(tmp_path):
    cluster = LocalCluster(ports=[19500, 19502, 19504], data_dir=tmp_path / "kafka",
                           cache_dir=tmp_path / "cache")
    assert cluster.bootstrap_servers == "127.0.0.1:19500,127.0.0.1:19502,127.0.0.1:19504"
    props = [node.server_properties() for node in cluster.nodes]
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    voters = "1@127.0.0.1:19501,2@127.0.0.1:19503,3@127.0.0.1:19505"
    assert all(p["controller.quorum.voters"] == voters for p in props)
    assert all("controller.quorum.bootstrap.servers" not in p for p in props)
    assert props[1]["listeners"] == "PLAINTEXT://127.0.0.1:19502,CONTROLLER://127.0.0.1:19503"
    assert {p["log.dirs"] for p in props} == {
        str(tmp_path / "kafka" / f"node-{n}" / "logs") for n in (1, 2, 3)}
    assert props[0]["offsets.topic.replication.factor"] == "3"
    assert props[0]["transaction.state.log.min.isr"] == "2"


def test_a_cluster_keeps_its_id_across_restarts(tmp_path):
    first = LocalCluster(ports=[19500, 19502, 19504], data_dir=tmp_path, cache_dir=tmp_path)
    again = LocalCluster(ports=[19500, 19502, 19504], data_dir=tmp_path, cache_dir=tmp_path)
    assert {node.cluster_id for node in first.nodes + again.nodes} == {first.nodes[0].cluster_id}
