//! RabbitMQ helpers: unique names, connecting (directly and through the proxy), queue cleanup.

use celeriac_testkit::amqp::{self, TestQueues};
use celeriac_testkit::proxy::FaultProxy;
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection};

fn broker_addr() -> std::net::SocketAddr {
    let url = amqp::amqp_url();
    let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    let host_port = authority.rsplit('@').next().unwrap();
    host_port
        .parse()
        .expect("the test broker URL uses an IP address")
}

async fn declare(connection: &Connection, queue: &str) {
    let channel = connection.create_channel().await.unwrap();
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
}

async fn exists(connection: &Connection, queue: &str) -> bool {
    // A passive declare fails (and closes the channel) when the queue does not exist.
    let channel = connection.create_channel().await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .is_ok()
}

#[test]
fn unique_queue_names_differ_and_keep_the_prefix() {
    let a = amqp::unique_queue("celery");
    let b = amqp::unique_queue("celery");
    assert_ne!(a, b);
    assert!(a.starts_with("celery-") && b.starts_with("celery-"));
}

#[test]
fn amqp_url_via_swaps_only_host_and_port() {
    let proxy: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let via = amqp::amqp_url_via(proxy);
    let original = amqp::amqp_url();
    assert!(
        via.contains("@127.0.0.1:40000/") || via.contains("://127.0.0.1:40000/"),
        "{via}"
    );
    assert_eq!(
        via.rsplit('/').next(),
        original.rsplit('/').next(),
        "vhost kept"
    );
}

#[tokio::test]
async fn queues_round_trip_a_message_and_are_deleted_with_the_guard() {
    let connection = amqp::connect().await;
    let queues = TestQueues::new();
    let name = queues.queue("testkit");
    declare(&connection, &name).await;

    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_publish(
            "".into(),
            name.as_str().into(),
            BasicPublishOptions::default(),
            b"hello",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let got = loop {
        // basic.get may run before the publish is routed; the broker answers "empty" then.
        if let Some(message) = channel
            .basic_get(name.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            break message;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(got.delivery.data, b"hello");

    assert!(exists(&connection, &name).await);
    drop(queues);
    assert!(
        !exists(&connection, &name).await,
        "the guard deleted {name}"
    );
}

#[tokio::test]
async fn tracked_names_are_deleted_too() {
    let connection = amqp::connect().await;
    let name = amqp::unique_queue("reply");
    declare(&connection, &name).await;
    let queues = TestQueues::new();
    queues.track_queue(name.clone());
    drop(queues);
    assert!(!exists(&connection, &name).await);
}

#[tokio::test]
async fn connects_through_the_fault_proxy_and_sees_the_cut() {
    let proxy = FaultProxy::start(broker_addr()).await;
    let connection = amqp::connect_to(&amqp::amqp_url_via(proxy.addr())).await;
    let queues = TestQueues::new();
    let name = queues.queue("via-proxy");
    declare(&connection, &name).await;
    assert_eq!(proxy.stats().accepted, 1);

    proxy.cut_all();
    proxy.wait_until(|s| s.active == 0).await;
    let after_cut = connection.create_channel().await;
    assert!(after_cut.is_err(), "the connection is gone after the cut");
}

#[tokio::test]
#[should_panic(expected = "required test service unavailable: RabbitMQ")]
async fn an_unreachable_broker_fails_the_test_naming_it() {
    let proxy = FaultProxy::start(broker_addr()).await;
    proxy.set_refuse(true);
    amqp::connect_to(&amqp::amqp_url_via(proxy.addr())).await;
}
