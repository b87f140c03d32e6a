//! kip's integration tests, one binary: the CLI driven as a process, the
//! bootstrap script run through its test seams, and end-to-end tests against
//! a real Docker engine (gated by KIP_E2E, never skipped silently in CI).

mod suite {
    pub mod bootstrap_script;
    pub mod ci_usage;
    pub mod cli;
    pub mod conformance;
    pub mod data_safety;
    pub mod day_one;
    pub mod doctor;
    pub mod down_and_reuse;
    pub mod e2e;
    pub mod gate;
    pub mod hard_cases;
    pub mod layer;
    pub mod node_fixes;
    pub mod pool;
    pub mod races;
    pub mod real_kind;
    pub mod real_remote;
    pub mod real_seed;
    pub mod remote;
    pub mod remote_pool;
    pub mod schema;
    pub mod seed;
    pub mod seed_script;
    pub mod silent_engine;
    pub mod snapshot;
    pub mod snapshot_copy;
    pub mod support;
}
