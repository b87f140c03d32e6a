//! The object store: every object as Kubernetes JSON, one resourceVersion
//! counter for all of them (as etcd's revision), and a bounded history of
//! changes for watches. A watch from a resourceVersion older than the history
//! gets 410 Gone, as from a real API server after compaction.

use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use tokio::sync::broadcast;

/// How many changes a watch can resume from.
pub const HISTORY: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    /// ADDED, MODIFIED or DELETED.
    pub kind: &'static str,
    pub key: Key,
    pub object: Value,
}

pub struct Store {
    /// Makes uids unique across emulators that share a Docker engine.
    instance: u32,
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Change>,
    changes: broadcast::Sender<Change>,
    next_uid: u64,
}

#[derive(Debug)]
pub enum StoreError {
    NotFound,
    AlreadyExists,
    Conflict,
}

impl Default for Store {
    fn default() -> Self {
        static INSTANCES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Store {
            instance: std::process::id().wrapping_mul(1000).wrapping_add(n),
            rv: 100,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            changes: broadcast::channel(4096).0,
            next_uid: 1,
        }
    }
}

impl Store {
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch can still start after.
    pub fn oldest_resumable(&self) -> u64 {
        self.history.front().map_or(self.rv, |c| c.rv - 1)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Changes after `rv`, oldest first.
    pub fn changes_since(&self, rv: u64) -> Vec<Change> {
        self.history.iter().filter(|c| c.rv > rv).cloned().collect()
    }

    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(k, _)| k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn new_uid(&mut self) -> String {
        self.next_uid += 1;
        format!(
            "{:08x}-0000-4000-8000-{:012x}",
            self.instance, self.next_uid
        )
    }

    pub fn create(&mut self, key: Key, mut object: Value) -> Result<Value, StoreError> {
        if self.objects.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        let uid = self.new_uid();
        let meta = &mut object["metadata"];
        if meta.get("uid").is_none() {
            meta["uid"] = json!(uid);
        }
        if meta.get("creationTimestamp").is_none_or(Value::is_null) {
            meta["creationTimestamp"] = json!(now_rfc3339());
        }
        Ok(self.commit("ADDED", key, object))
    }

    /// Replaces an object. `expected_rv` (from the request body) must match
    /// the stored one when given.
    pub fn update(
        &mut self,
        key: Key,
        mut object: Value,
        expected_rv: Option<&str>,
    ) -> Result<Value, StoreError> {
        let current = self.objects.get(&key).ok_or(StoreError::NotFound)?;
        if let Some(rv) = expected_rv.filter(|rv| !rv.is_empty()) {
            if current["metadata"]["resourceVersion"].as_str() != Some(rv) {
                return Err(StoreError::Conflict);
            }
        }
        for field in ["uid", "creationTimestamp"] {
            object["metadata"][field] = current["metadata"][field].clone();
        }
        if object == *current {
            return Ok(object);
        }
        Ok(self.commit("MODIFIED", key, object))
    }

    pub fn delete(&mut self, key: &Key) -> Result<Value, StoreError> {
        let object = self.objects.remove(key).ok_or(StoreError::NotFound)?;
        self.rv += 1;
        let mut object = object;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(Change {
            rv: self.rv,
            kind: "DELETED",
            key: key.clone(),
            object: object.clone(),
        });
        Ok(object)
    }

    fn commit(&mut self, kind: &'static str, key: Key, mut object: Value) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.objects.insert(key.clone(), object.clone());
        self.record(Change {
            rv: self.rv,
            kind,
            key,
            object: object.clone(),
        });
        object
    }

    fn record(&mut self, change: Change) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(change.clone());
        // No receiver is not an error: nobody is watching.
        let _ = self.changes.send(change);
    }
}

pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the epoch as `2026-01-02T03:04:05Z`.
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        Key {
            resource: "configmaps".into(),
            namespace: "default".into(),
            name: name.into(),
        }
    }

    #[test]
    fn versions_conflicts_and_history() {
        let mut store = Store::default();
        let created = store
            .create(key("a"), json!({"metadata": {"name": "a"}}))
            .unwrap();
        let rv = created["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(matches!(
            store.create(key("a"), json!({"metadata": {}})),
            Err(StoreError::AlreadyExists)
        ));
        let updated = store
            .update(
                key("a"),
                json!({"metadata": {"name": "a"}, "data": {"x": "1"}}),
                Some(&rv),
            )
            .unwrap();
        assert_ne!(updated["metadata"]["resourceVersion"].as_str().unwrap(), rv);
        assert!(matches!(
            store.update(key("a"), json!({"metadata": {}}), Some(&rv)),
            Err(StoreError::Conflict)
        ));
        store.delete(&key("a")).unwrap();
        let kinds: Vec<&str> = store.changes_since(0).iter().map(|c| c.kind).collect();
        assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
        assert!(matches!(store.delete(&key("a")), Err(StoreError::NotFound)));
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_323_045), "2026-01-02T03:04:05Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
