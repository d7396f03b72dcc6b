//! Creates Vigil's topics at start-up when they are missing, and reads how
//! many partitions the transactions topic really has.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::{KafkaError, KafkaSettings};

/// Creates `transactions`, `labels` and their dead-letter topics when they
/// do not exist (an existing topic is left as it is), then returns the
/// partition count of the transactions topic.
pub async fn ensure_topics(settings: &KafkaSettings) -> Result<i32, KafkaError> {
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config()
        .create()
        .map_err(|e| KafkaError::new("cannot create the admin client", e))?;
    let names = settings.topics.all();
    let new_topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| {
            NewTopic::new(
                name,
                settings.partitions,
                TopicReplication::Fixed(settings.replication),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(settings.timeout));
    let results = admin
        .create_topics(new_topics.iter(), &options)
        .await
        .map_err(|e| KafkaError::new("cannot create topics", e))?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, "created kafka topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(KafkaError::message(format!(
                    "cannot create topic {name}: {code}"
                )));
            }
        }
    }
    partition_count(
        admin,
        settings.topics.transactions.clone(),
        settings.timeout,
    )
    .await
}

/// The partition count of `topic`, from the cluster's metadata (a blocking
/// call, so on a blocking thread).
async fn partition_count(
    admin: AdminClient<DefaultClientContext>,
    topic: String,
    timeout: Duration,
) -> Result<i32, KafkaError> {
    tokio::task::spawn_blocking(move || {
        let metadata = admin
            .inner()
            .fetch_metadata(Some(&topic), timeout)
            .map_err(|e| KafkaError::new("cannot read topic metadata", e))?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map(|t| t.partitions().len())
            .unwrap_or(0);
        if partitions == 0 {
            return Err(KafkaError::message(format!(
                "topic {topic} has no partitions"
            )));
        }
        Ok(partitions as i32)
    })
    .await
    .map_err(|e| KafkaError::message(format!("metadata task failed: {e}")))?
}
