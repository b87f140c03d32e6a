//! One module per command, each thin: settings in, the cluster layer (or a
//! provider), the result out. No command calls another.

pub mod connect;
pub mod doctor;
pub mod down;
pub mod exec;
pub mod gc;
pub mod kubeconfig;
pub mod list;
pub mod load;
pub mod logs;
pub mod pool;
pub mod registry;
pub mod run;
pub mod seed;
pub mod snapshot;
pub mod status;
pub mod up;
