//! A certificate authority outside IGC Santé and a client certificate it signs, with the CN of the real
//! `AUTH_CLI`: what servers requiring IGC Santé client certificates must refuse.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use segur_gateway::pki::Identity;

/// A client identity from a CA made up here.
pub fn client() -> Identity {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        DnType::CommonName,
        "ROGUE AC IGC-SANTE ELEMENTAIRE ORGANISATIONS",
    );
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec![]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "AUTH_CLI");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    Identity::from_parts(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        "rogue",
    )
    .unwrap()
}
