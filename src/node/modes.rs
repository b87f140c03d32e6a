//! How the node gets its privileges and which iptables backend its Docker
//! uses: chosen on the command line, carried by the node plan.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityMode {
    /// Try privileged; if the engine refuses it, fall back to `caps`.
    Auto,
    /// A privileged container.
    Privileged,
    /// All capabilities but SYS_RESOURCE, unconfined seccomp/AppArmor, all devices.
    Caps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IptablesMode {
    /// Legacy when legacy tables already hold rules or nft is unusable, else nft.
    Auto,
    Legacy,
    Nft,
}
