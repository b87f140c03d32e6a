//! A throwaway CA, an API server certificate and an admin client certificate,
//! as kubeadm would make them for the stand-in control plane.

use anyhow::{Context, Result};
use base64::{engine::general_purpose::STANDARD, Engine};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::Path;

pub struct Pki {
    pub ca_cert: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
}

pub fn generate(sans: &[String]) -> Result<Pki> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "kubernetes");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(sans.to_vec()).context("invalid certSANs")?;
    server
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, "kubernetes-admin");
    client
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer)?;

    Ok(Pki {
        ca_cert: ca_cert.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    })
}

impl Pki {
    pub fn write(&self, dir: &Path) -> Result<()> {
        for (file, text) in [
            ("ca.crt", &self.ca_cert),
            ("apiserver.crt", &self.server_cert),
            ("apiserver.key", &self.server_key),
        ] {
            std::fs::write(dir.join(file), text)
                .with_context(|| format!("cannot write {}", dir.join(file).display()))?;
        }
        Ok(())
    }

    /// The kubeconfig kind writes: `kind-NAME` cluster, user and context.
    pub fn kubeconfig(&self, name: &str, server: &str) -> String {
        let b64 = |s: &str| STANDARD.encode(s);
        format!(
            "apiVersion: v1\nkind: Config\npreferences: {{}}\ncurrent-context: kind-{name}\n\
             clusters:\n- name: kind-{name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n\
             users:\n- name: kind-{name}\n  user:\n    client-certificate-data: {cc}\n    client-key-data: {ck}\n\
             contexts:\n- name: kind-{name}\n  context:\n    cluster: kind-{name}\n    user: kind-{name}\n",
            ca = b64(&self.ca_cert),
            cc = b64(&self.client_cert),
            ck = b64(&self.client_key),
        )
    }
}
