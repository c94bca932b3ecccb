//! Optional TLS for traffic between machines (`smac scheduler --tls`).
//!
//! The mutual handshake ([`super::auth`]) already proves both ends hold the token; TLS adds
//! confidentiality and integrity for the whole connection, for networks where someone could
//! read or rewrite packets. No certificate authority is involved: the scheduler makes a fresh
//! self-signed certificate at every start and writes it into the scheduler file (which is
//! owner-only and already carries the token), and workers and clients accept exactly that
//! certificate and no other (pinning). Whoever can read the scheduler file is trusted anyway.
//!
//! On the scheduler, connections are wrapped in TLS before the mutual handshake. Workers (which
//! use blocking sockets read and written from several threads) and clients reach a TLS
//! scheduler through a *tunnel*: a connected pair of loopback sockets, one end given to the
//! caller as a plain stream, the other pumped to and from the TLS connection by a small thread.
//! The protocol code stays the same on every transport, and the extra hop costs tens of
//! microseconds, nothing beside a network round trip.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// The name in the scheduler's certificate (only the pinned certificate is checked, not names).
const SERVER_NAME: &str = "smac-scheduler";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A scheduler's TLS identity: a fresh self-signed certificate and its key.
pub struct TlsIdentity {
    certificate_pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity(..)")
    }
}

impl TlsIdentity {
    /// Generates a new certificate (ECDSA P-256) and key.
    pub fn generate() -> Result<TlsIdentity, String> {
        let certified = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_string()])
            .map_err(|e| format!("cannot make a TLS certificate: {e}"))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(vec![certified.cert.der().clone()], key))
            .map_err(|e| format!("cannot set up TLS: {e}"))?;
        Ok(TlsIdentity {
            certificate_pem: certified.cert.pem(),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The certificate in PEM, as written to the scheduler file.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Accepts TLS on connections to the scheduler.
    pub(crate) fn acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.acceptor
    }
}

/// Accepts exactly one certificate: the scheduler's, from its scheduler file.
#[derive(Debug)]
struct Pinned {
    certificate: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the scheduler's certificate is not the one in the scheduler file".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client that trusts only `certificate_pem`.
fn connector(certificate_pem: &str) -> std::io::Result<tokio_rustls::TlsConnector> {
    let certificate = CertificateDer::from_pem_slice(certificate_pem.as_bytes()).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad TLS certificate in the scheduler file: {e}"),
        )
    })?;
    let provider = provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { certificate, provider }))
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Connects to the scheduler at `address` over TLS (trusting only `certificate_pem`) and
/// returns a plain loopback stream whose bytes travel through that TLS connection. Fails
/// when the TLS handshake fails, e.g. on any other certificate.
pub fn connect_tunnel(address: &str, certificate_pem: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let connector = connector(certificate_pem)?;
    // A connected pair on loopback; the listener lives only until its one connection is
    // accepted, and the accepted peer must be our own socket.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let ours = TcpStream::connect(listener.local_addr()?)?;
    let (theirs, from) = listener.accept()?;
    drop(listener);
    if from != ours.local_addr()? {
        return Err(std::io::Error::other("another process connected to the TLS tunnel first"));
    }
    ours.set_nodelay(true)?;
    theirs.set_nodelay(true)?;
    theirs.set_nonblocking(true)?;
    let address = address.to_string();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    std::thread::Builder::new().name("smac-tls-tunnel".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        rt.block_on(async move {
            let opened = tokio::time::timeout(timeout, async {
                let tcp = tokio::net::TcpStream::connect(&address).await?;
                tcp.set_nodelay(true)?;
                let name = ServerName::try_from(SERVER_NAME).expect("a valid DNS name");
                connector.connect(name, tcp).await
            })
            .await
            .unwrap_or_else(|_| {
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS connection timed out"))
            });
            let mut tls = match opened {
                Ok(tls) => tls,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut local = match tokio::net::TcpStream::from_std(theirs) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            if let Err(e) = tokio::io::copy_bidirectional(&mut local, &mut tls).await {
                tracing::debug!("TLS tunnel to {address} ended: {e}");
            }
        });
    })?;
    match ready.recv() {
        Ok(Ok(())) => Ok(ours),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("the TLS tunnel thread ended")),
    }
}
