//! Mutual TLS against an HTTPS receiver on loopback that demands a client certificate
//! from a CA made in the test (rcgen): the right certificate is accepted, none or a
//! wrong one is refused with the TLS error class; the connection page checks what is
//! pasted, shows the certificate, flags one close to expiry, and keeps the key sealed.

use std::sync::Arc;

use hookdesk::config::Secret;
use hookdesk::delivery::{Attempt, ClientTls, ErrorClass};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use crate::connections_secrets::dump_all_rows;
use crate::helpers::TestApp;
use crate::sender::{loopback_sender, request};
use crate::tls_receiver::TlsReceiver;

/// A CA with the server's and a client's certificates, and a client of another CA.
pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    pub(crate) server_cert: CertificateDer<'static>,
    pub(crate) server_key: PrivateKeyDer<'static>,
    pub(crate) client_cert: String,
    pub(crate) client_key: String,
    pub(crate) stranger_cert: String,
    pub(crate) stranger_key: String,
    pub(crate) ca_der: CertificateDer<'static>,
}

fn ca(name: &str) -> (Issuer<'static, KeyPair>, String, CertificateDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (Issuer::new(params, key), cert.pem(), cert.der().clone())
}

/// A leaf certificate for `sans`, named `cn`, valid until `days` from now (if given).
fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    sans: &[&str],
    cn: &str,
    days: Option<i64>,
) -> (String, String, CertificateDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    if let Some(d) = days {
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(d);
    }
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().clone())
}

pub(crate) fn pki() -> Pki {
    let (issuer, ca_pem, ca_der) = ca("Hookdesk Test CA");
    let (_, server_key, server_cert) = {
        let (pem, key, der) = leaf(&issuer, &["127.0.0.1"], "receiver", None);
        (pem, key, der)
    };
    let (client_cert, client_key, _) = leaf(&issuer, &[], "hookdesk-client", None);
    let (other, _, _) = ca("Some Other CA");
    let (stranger_cert, stranger_key, _) = leaf(&other, &[], "stranger", None);
    Pki {
        ca_pem,
        server_cert,
        server_key: PrivateKeyDer::from_pem_slice(server_key.as_bytes()).unwrap(),
        client_cert,
        client_key,
        stranger_cert,
        stranger_key,
        ca_der,
    }
}

pub(crate) async fn receiver(p: &Pki) -> TlsReceiver {
    TlsReceiver::start_mtls(
        p.server_cert.clone(),
        p.server_key.clone_key(),
        p.ca_der.clone(),
    )
    .await
}

async fn send(rx: &TlsReceiver, tls: ClientTls) -> Attempt {
    let mut req = request(rx.url("/hook"));
    req.client_tls = Some(Arc::new(tls));
    loopback_sender().send(&req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_certificate_is_accepted_and_others_are_refused_as_tls_errors() {
    let p = pki();
    let rx = receiver(&p).await;
    let with = |cert: &str, key: &str, ca: &str| ClientTls {
        cert_pem: cert.into(),
        key_pem: Secret(key.into()),
        ca_pem: ca.into(),
    };

    let ok = send(&rx, with(&p.client_cert, &p.client_key, &p.ca_pem)).await;
    assert!(ok.succeeded(), "{:?}", ok.error);
    assert_eq!(ok.status, Some(200));
    assert_eq!(rx.answered(), 1);

    for (what, tls) in [
        ("no client certificate", with("", "", &p.ca_pem)),
        (
            "a certificate of another CA",
            with(&p.stranger_cert, &p.stranger_key, &p.ca_pem),
        ),
        (
            "the server's CA not trusted",
            with(&p.client_cert, &p.client_key, ""),
        ),
    ] {
        let a = send(&rx, tls).await;
        let e = a
            .error
            .clone()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(e.class, ErrorClass::Tls, "{what}: {}", e.message);
        assert_eq!(a.status, None, "{what}");
    }
    assert_eq!(rx.answered(), 1, "no refused client got an answer");
}

crate::db_tests!(spawn = crate::buttons_support::buttons_app;
    certificate_on_the_connection_page);

fn form<'a>(name: &'a str, base_url: &'a str, p: &'a Pki) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("app_type", "generic"),
        ("environment", "production"),
        ("base_url", base_url),
        ("timeout_ms", "10000"),
        ("verify_tls", "on"),
        ("auth_kind", "none"),
        ("tls_client_cert", &p.client_cert),
        ("tls_ca_bundle", &p.ca_pem),
    ]
}

async fn certificate_on_the_connection_page(app: TestApp) {
    let p = pki();
    let rx = receiver(&p).await;
    app.login_admin().await;
    let url = rx.url("/");

    // A key that belongs to another certificate: a field error, nothing saved.
    let mut f = form("mtls", &url, &p);
    f.push(("tls_client_key", &p.stranger_key));
    let r = app.post_form("/admin/connections", &f).await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("does not belong to the client certificate")
    );
    // A private key pasted into the certificate field is refused: that field is public.
    let both = format!("{}\n{}", p.client_cert, p.client_key);
    let mut f = form("mtls", &url, &p);
    f.retain(|(k, _)| *k != "tls_client_cert");
    f.push(("tls_client_cert", &both));
    f.push(("tls_client_key", &p.client_key));
    let r = app.post_form("/admin/connections", &f).await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("remove the private key from it")
    );
    assert!(
        app.with_conn(|c| hookdesk::connections::Connection::list(c).unwrap())
            .is_empty()
    );

    let mut f = form("mtls", &url, &p);
    f.push(("tls_client_key", &p.client_key));
    let r = app.post_form("/admin/connections", &f).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let c = app.with_conn(|c| {
        hookdesk::connections::Connection::find_by_name(c, "mtls")
            .unwrap()
            .unwrap()
    });
    let page = app
        .get(&format!("/admin/connections/{}", c.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("CN=hookdesk-client"), "{page}");
    assert!(page.contains("CN=Hookdesk Test CA"));
    assert!(page.contains("(stored — leave blank to keep it)"));
    let key_body = p.client_key.lines().nth(1).unwrap();
    assert!(!page.contains(key_body), "the key is never shown back");
    assert!(
        !app.with_conn(dump_all_rows).contains(key_body),
        "the key is sealed at rest"
    );

    // Test connection from the page goes through with the certificate.
    let html = app
        .post_form(&format!("/admin/connections/{}/test", c.id), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<strong>Delivered</strong>"), "{html}");
    assert_eq!(rx.answered(), 1);

    // Saving again without the key keeps it; the API says it is set, never what it is.
    let r = app
        .post_form(
            &format!("/admin/connections/{}", c.id),
            &form("mtls", &url, &p),
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let token = crate::connections::admin_token(&app).await;
    let v: Value = app
        .client
        .get(app.url(&format!("/api/v1/connections/{}", c.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tls_client_key_set"], true);
    assert_eq!(v["tls_client_cert_subject"], "CN=hookdesk-client");
    assert!(!v.to_string().contains(key_body));

    // A certificate ten days from expiry is flagged on the list and the dashboard.
    let (issuer, ca_pem, _) = ca("Short CA");
    let (cert, key, _) = leaf(&issuer, &[], "soon", Some(10));
    let soon = Pki {
        client_cert: cert,
        client_key: key.clone(),
        ca_pem,
        ..pki()
    };
    let mut f = form("expiring", "https://expiring.example.test/", &soon);
    f.push(("tls_client_key", &key));
    let r = app.post_form("/admin/connections", &f).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let list = app.get("/admin/connections").await.text().await.unwrap();
    assert_eq!(list.matches(">certificate expires 20").count(), 1, "{list}");
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("Client certificates expiring"), "{home}");
    assert!(home.contains(">expiring</a>"), "{home}");
}
