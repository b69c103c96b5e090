//! Encrypted PKCS#8 client keys (`ssl.key.password`).

use pkcs8::der::pem::LineEnding;
use pkcs8::pkcs5::pbes2;
use rustls::pki_types::PrivateKeyDer;

use super::private_key;
use crate::config::Password;

/// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkcs8 -topk8
/// -v2 aes-256-cbc -passout pass:fixture-pass`: PBES2, PBKDF2-HMAC-SHA256 (2048 rounds),
/// AES-256-CBC — what OpenSSL 3 writes by default. A throwaway key made for this test.
const OPENSSL_ENCRYPTED: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAi/Qr6qHLdAhAICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEH3jQn+oVpQpXmz0f1p4o+AEgZDK
mLxQYPKo+m1Q8aURyPkYYXC9wYGpeJFlu/XFv2LtfsG79e9736RkC08WwCq7+Xvd
YnJC4LSG0a7OCd1rdnjvRTSyI0rabcRk7nU4iZSf2vszMJLQqn9X56jCxtESa6PN
/91IeiNzaJQWa1UZi2ZiTEpjK6sXgyaMfWwMciXQTaWTqkysimmUsnsSYAzTNnU=
-----END ENCRYPTED PRIVATE KEY-----
";

fn fresh_pkcs8() -> Vec<u8> {
    let rng = ring::rand::SystemRandom::new();
    ring::signature::EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// Encrypts a PKCS#8 key the way `openssl pkcs8 -topk8 -v2 aes-256-cbc` does.
pub(crate) fn encrypt_pbkdf2(der: &[u8], password: &str) -> String {
    let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", b"0123456789abcdef").unwrap();
    let info = pkcs8::PrivateKeyInfo::try_from(der).unwrap();
    info.encrypt_with_params(params, password).unwrap().to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF).unwrap().to_string()
}

fn assert_is(key: PrivateKeyDer<'static>, want: &[u8]) {
    match key {
        PrivateKeyDer::Pkcs8(k) => assert_eq!(k.secret_pkcs8_der(), want),
        other => panic!("not PKCS#8: {other:?}"),
    }
}

#[test]
fn openssl_encrypted_key_decrypts_with_the_password() {
    let key = private_key(OPENSSL_ENCRYPTED.as_bytes(), "ssl.key.location=k.pem", Some(&Password::new("fixture-pass")))
        .unwrap();
    let PrivateKeyDer::Pkcs8(k) = &key else { panic!("PKCS#8 expected") };
    // The decrypted key is usable: ring accepts it as an EC P-256 signing key.
    let rng = ring::rand::SystemRandom::new();
    ring::signature::EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING, k.secret_pkcs8_der(), &rng)
        .unwrap();
}

#[test]
fn pbkdf2_and_scrypt_round_trips_inside_a_keystore_file() {
    let der = fresh_pkcs8();
    let pem = encrypt_pbkdf2(&der, "p@ss wörd");
    // A keystore file: the chain first, then the key.
    let file = format!("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n{pem}");
    assert_is(private_key(file.as_bytes(), "k", Some(&Password::new("p@ss wörd"))).unwrap(), &der);

    // scrypt + AES-256-CBC: the pkcs8 crate's own default scheme.
    let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
    let params = pbes2::Parameters::scrypt_aes256cbc(pkcs8::pkcs5::scrypt::Params::new(10, 8, 1, 32).unwrap(), b"salt", b"0123456789abcdef").unwrap();
    let pem = info.encrypt_with_params(params, "pw").unwrap().to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF).unwrap();
    assert_is(private_key(pem.as_bytes(), "k", Some(&Password::new("pw"))).unwrap(), &der);
}

#[test]
fn wrong_or_missing_password_is_a_clear_error_that_hides_the_password() {
    let pem = encrypt_pbkdf2(&fresh_pkcs8(), "right-password");
    for attempt in ["wrong-password-1", "wrong-password-2", "wrong-password-3", "x"] {
        let err = private_key(pem.as_bytes(), "ssl.key.location=/k.pem", Some(&Password::new(attempt))).unwrap_err();
        assert!(err.contains("ssl.key.location=/k.pem") && err.contains("wrong ssl.key.password"), "{err}");
        assert!(!err.contains(attempt) && !err.contains("right-password"), "{err}");
    }
    for none in [None, Some(Password::new(""))] {
        let err = private_key(pem.as_bytes(), "ssl.keystore.key", none.as_ref()).unwrap_err();
        assert!(err.contains("encrypted private key; set ssl.key.password"), "{err}");
    }
}

#[test]
fn unencrypted_legacy_and_garbage_keys() {
    let der = fresh_pkcs8();
    let plain = pkcs8::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &der).unwrap();
    // A password that is not needed is ignored.
    assert_is(private_key(plain.as_bytes(), "k", Some(&Password::new("unused"))).unwrap(), &der);
    assert_is(private_key(plain.as_bytes(), "k", None).unwrap(), &der);

    let legacy = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
    let err = private_key(legacy.as_bytes(), "k", Some(&Password::new("pw"))).unwrap_err();
    assert!(err.contains("legacy encrypted format") && err.contains("openssl pkcs8 -topk8"), "{err}");

    let truncated = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIHsMFcG\n";
    assert!(private_key(truncated.as_bytes(), "k", Some(&Password::new("pw"))).unwrap_err().contains("no END line"));
    let garbage = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let err = private_key(garbage.as_bytes(), "k", Some(&Password::new("pw"))).unwrap_err();
    assert!(err.contains("unsupported scheme or malformed"), "{err}");
    assert!(private_key(b"nothing here", "k", None).unwrap_err().contains("no usable PEM private key"));
}
