//! A certificate authority outside IGC Santé and a client certificate it signs, with the CN of the real
//! `AUTH_CLI`: what servers requiring IGC Santé client certificates must refuse.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use segur_gateway::pki::{Identity, TrustRoots};

/// A client identity from a CA made up here, with the CN of the real `AUTH_CLI`.
pub fn client() -> Identity {
    authority("AUTH_CLI", false).1
}

/// A CA made up here (as trust roots) and a leaf it signs for `cn`, valid for `localhost`/`127.0.0.1`, with the
/// server or the client extended key usage.
pub fn authority(cn: &str, server: bool) -> (TrustRoots, Identity) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        DnType::CommonName,
        "ROGUE AC IGC-SANTE ELEMENTAIRE ORGANISATIONS",
    );
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, cn);
    leaf.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let id = Identity::from_parts(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        "rogue",
    )
    .unwrap();
    let roots = TrustRoots::from_pem(ca_cert.pem().as_bytes(), "rogue").unwrap();
    (roots, id)
}
