//! Warm pools on a shared cluster (`--remote`) are not built yet: kip
//! refuses `kip pool --remote` and `up --remote --pool` before it connects
//! (`Error::PoolsLocalOnly`), so nothing here is reached from the command
//! line. Each operation refuses the same way, so that no caller can take a
//! remote pool for an empty one.
//!
//! The design the remote side will follow (members as kip's own node Pods
//! made by the ordinary remote provisioning and ready by their readiness
//! probe; a claim as the name's ConfigMap created, then the member Pod
//! updated with the resourceVersion the claimer read; the definition a
//! ConfigMap changed only at its resourceVersion) is in `crate::pool`'s
//! DESIGN.

use super::KubeProvider;
use crate::error::Error;
use crate::pool::member::{ClaimRecord, MemberInfo};
use crate::pool::spec::PoolSpec;
use crate::provider::pool::{Claimed, Pools, StoredPool, Take};
use anyhow::Result;

fn refused<T>() -> Result<T> {
    Err(Error::PoolsLocalOnly.into())
}

impl Pools for KubeProvider {
    async fn pools(&self, _name: Option<&str>) -> Result<Vec<StoredPool>> {
        refused()
    }

    async fn store_pool(&self, _spec: &PoolSpec, _version: Option<&str>) -> Result<bool> {
        refused()
    }

    async fn remove_pool(&self, _name: &str) -> Result<bool> {
        refused()
    }

    async fn members(&self, _pool: Option<&str>, _memory: bool) -> Result<Vec<MemberInfo>> {
        refused()
    }

    async fn take(&self, _member: &MemberInfo, _record: &ClaimRecord) -> Result<Take> {
        refused()
    }

    async fn finish_claim(
        &self,
        _member: &MemberInfo,
        _record: &ClaimRecord,
    ) -> Result<Claimed<Self::Node>> {
        refused()
    }

    async fn delete_member(&self, _member: &MemberInfo) -> Result<bool> {
        refused()
    }

    async fn mark_ready(&self, _key: &str, _pause: bool) -> Result<()> {
        refused()
    }

    fn members_ready_themselves(&self) -> bool {
        true
    }

    fn member_maker(&self, _spec: &PoolSpec) -> Self {
        self.clone()
    }
}
