//! TLS options against a real server on a free loopback port. The server has no
//! TLS listener, so these check the refusals: a TLS client gets no plaintext
//! answer, and TLS is never silently dropped for an http:// target.

use std::process::Stdio;
use std::time::Duration;

use hypergraph_client::{Client, Code, Error, TlsOptions};

mod common;

use common::LocalServer;

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
