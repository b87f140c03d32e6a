//! Test helpers for unit tests (compiled only under `cfg(test)`).

use std::path::PathBuf;

/// Compares `actual` with `tests/snapshots/NAME`. `KIP_UPDATE_SNAPSHOTS=1`
/// rewrites the file instead; a review of the diff is then the test.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("KIP_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read snapshot {}: {e} (KIP_UPDATE_SNAPSHOTS=1 creates it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "snapshot {} differs (KIP_UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}
