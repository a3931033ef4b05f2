//! Generates the hypergraph.v1 messages and the RunnerService client from
//! ../../protos with the protoc shipped by protoc-bin-vendored.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let include = protoc_bin_vendored::include_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let protos = std::path::Path::new("../../protos");
    let runner = protos.join("hypergraph/v1/runner.proto");
    println!("cargo:rerun-if-changed={}", runner.display());
    tonic_prost_build::configure()
        .build_server(false)
        .build_transport(false)
        .compile_protos(&[runner], &[protos.to_path_buf(), include])?;
    Ok(())
}
