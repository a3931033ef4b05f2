//! TLS options against real servers on free loopback ports: a graph run over
//! TLS and mutual TLS with the repository's test certificates, and the
//! refusals (an untrusted server, a missing client certificate, a plaintext
//! server, an http:// target).

use std::process::Stdio;
use std::time::Duration;

use hypergraph_client::{Client, Code, Error, TlsOptions};
use serde_json::json;

mod common;

use common::{LocalServer, TestPki};

fn plaintext_server() -> LocalServer {
    let args = ["--graphs".to_string(), "hypergraph_grpc.demo.testing:GRAPHS".to_string()];
    let mut cmd = LocalServer::serve_command(LocalServer::default_program(), &args);
    cmd.stderr(Stdio::null());
    LocalServer::spawn(cmd, Duration::from_secs(90)).expect("the test server starts")
}

#[tokio::test]
async fn a_tls_client_is_refused_by_the_plaintext_server() {
    let server = plaintext_server();
    // The same address answers in plaintext, so a refusal is the TLS handshake's.
    Client::connect(server.addr()).await.expect("plaintext connects").list_graphs().await.expect("plaintext answers");
    let tls = TlsOptions::new().server_name("localhost");
    let err = Client::connect_tls(server.addr(), &tls).await.expect_err("TLS to a plaintext server must fail");
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(err.code(), Code::Unavailable);
}

#[tokio::test]
async fn tls_refuses_an_http_target() {
    let err = Client::connect_tls("http://127.0.0.1:1", &TlsOptions::new()).await.expect_err("http:// refused");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert_eq!(err.code(), Code::InvalidArgument);
}

fn tls_server(pki: &TestPki, client_ca: bool) -> LocalServer {
    let mut args: Vec<String> =
        ["--graphs", "hypergraph_grpc.demo.testing:GRAPHS", "--tls-cert"].map(String::from).into();
    args.push(pki.path("server.pem").display().to_string());
    args.push("--tls-key".into());
    args.push(pki.path("server.key").display().to_string());
    if client_ca {
        args.push("--tls-client-ca".into());
        args.push(pki.path("ca.pem").display().to_string());
    }
    let mut cmd = LocalServer::serve_command(LocalServer::default_program(), &args);
    cmd.stderr(Stdio::null());
    LocalServer::spawn(cmd, Duration::from_secs(90)).expect("the TLS test server starts")
}

/// Runs `add` over `tls`; a refusal may come at connect or at the first call.
async fn sum_over(server: &LocalServer, tls: &TlsOptions) -> Result<serde_json::Value, Error> {
    let client = Client::connect_tls(server.addr(), tls).await?;
    let result = client.run("add", json!({"a": 2, "b": 40})).await?;
    Ok(result.values["sum"].clone())
}

#[tokio::test]
async fn a_client_trusting_the_servers_ca_runs_a_graph_over_tls() {
    let pki = TestPki::new().expect("test certificates");
    let server = tls_server(&pki, false);
    let sum = sum_over(&server, &TlsOptions::new().ca_file(pki.path("ca.pem"))).await.expect("add over TLS");
    assert_eq!(sum, json!(42));
    let untrusting = TlsOptions::new().ca_file(pki.path("other-ca.pem"));
    let err = sum_over(&server, &untrusting).await.expect_err("a server signed by an untrusted CA must be refused");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
}

#[tokio::test]
async fn a_mutual_tls_server_answers_only_a_client_with_a_certificate() {
    let pki = TestPki::new().expect("test certificates");
    let server = tls_server(&pki, true);
    let with_cert = TlsOptions::new()
        .ca_file(pki.path("ca.pem"))
        .client_certificate(pki.path("client.pem"), pki.path("client.key"));
    let sum = sum_over(&server, &with_cert).await.expect("add over mutual TLS");
    assert_eq!(sum, json!(42));
    let without_cert = TlsOptions::new().ca_file(pki.path("ca.pem"));
    let err = sum_over(&server, &without_cert).await.expect_err("a client without a certificate must be refused");
    // Under TLS 1.3 the server rejects the client after the client's handshake is done,
    // so connect succeeds and the first call finds the connection broken (tonic: UNKNOWN
    // "transport error" or CANCELLED "operation was canceled", whichever side of the
    // stream saw the close first). The client reports it as UNAVAILABLE naming the
    // refusal. This server (grpc-core) closes the connection without a TLS alert, so the
    // message says that such a close on a first call is how a mutual-TLS server refuses
    // a certificate.
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("this client's TLS certificate") && message.contains("TlsOptions::client_certificate"),
        "a refused client certificate must be named: {err:?}"
    );
}
