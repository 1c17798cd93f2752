//! The backup id of a task: derived from the Celery task id, so a redelivered or retried
//! message finds the same catalog row and writes the same object keys.

use uuid::Uuid;

/// The UUIDv5 namespace of backup ids: `uuid5(NAMESPACE_URL, "urn:celeriac:configuration-backup")`.
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:celeriac:configuration-backup")
}

/// The backup id of the task with id `task_id`: UUIDv5 over the task id's text, so every
/// delivery of one message, and every retry of it, maps to one backup.
pub fn backup_id_for_task(task_id: &str) -> Uuid {
    Uuid::new_v5(&namespace(), task_id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_task_one_id_and_distinct_tasks_distinct_ids() {
        let a = backup_id_for_task("6f1c1b52-6a47-4f2c-9a0e-3f6f0d1f3a11");
        assert_eq!(
            a,
            backup_id_for_task("6f1c1b52-6a47-4f2c-9a0e-3f6f0d1f3a11")
        );
        assert_ne!(
            a,
            backup_id_for_task("6f1c1b52-6a47-4f2c-9a0e-3f6f0d1f3a12")
        );
        assert_eq!(a.get_version_num(), 5);
    }
}
