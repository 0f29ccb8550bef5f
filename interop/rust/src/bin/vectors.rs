//! The rust-libp2p side of interop/vectors.mjs: reads a JSON array of checks on stdin, answers each
//! with rust-libp2p's own code (libp2p-identity keys, libp2p-core's SignedEnvelope and PeerRecord,
//! libp2p-kad's key distance, request_response's cbor and json codecs) and prints a JSON array of
//! answers {ref, out} or {ref, error}. It gets inputs only (bytes, seeds, keys), never weft's
//! expected values. Built by interop/vectors.mjs with `cargo build --release --locked --bin vectors`
//! in the interop peer's target directory.
use std::io::Read as _;

use libp2p::{
    core::{PeerRecord, SignedEnvelope},
    identity::Keypair,
    kad::KBucketKey,
    request_response,
    StreamProtocol,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The request and response of the interop request-response scenario (interop/CONTRACT.md), as the
/// rust peer declares them (src/reqresp.rs): serde's field order is the wire order of both codecs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Req {
    id: u64,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    delay_ms: u32,
    resp_len: u32,
    omit: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Resp {
    id: u64,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err(format!("odd hex length {}", s.len()));
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string())).collect()
}

fn field<'a>(c: &'a Value, k: &str) -> &'a str {
    c.get(k).and_then(Value::as_str).unwrap_or("")
}

fn keypair(seed_hex: &str) -> Result<Keypair, String> {
    let mut seed = unhex(seed_hex)?;
    Keypair::ed25519_from_bytes(&mut seed).map_err(|e| e.to_string())
}

fn peer_id_seed(c: &Value) -> Result<Value, String> {
    let k = keypair(field(c, "seed"))?;
    Ok(json!({
        "publicKeyHex": hex(&k.public().encode_protobuf()),
        "privateKeyHex": hex(&k.to_protobuf_encoding().map_err(|e| e.to_string())?),
        "peerId": k.public().to_peer_id().to_string(),
    }))
}

/// A signed envelope opened for `domain` and the payload type the check names; with a seed, sealed again.
fn envelope(c: &Value) -> Result<Value, String> {
    let raw = unhex(field(c, "hex"))?;
    let env = SignedEnvelope::from_protobuf_encoding(&raw).map_err(|e| e.to_string())?;
    let payload_type = unhex(field(c, "payloadType"))?;
    let domain = field(c, "domain").to_string();
    let (payload, key) = env.payload_and_signing_key(domain.clone(), &payload_type).map_err(|e| e.to_string())?;
    let payload = payload.to_vec();
    let mut out = json!({
        "publicKeyHex": hex(&key.encode_protobuf()),
        "payloadHex": hex(&payload),
        "reencoded": hex(&env.clone().into_protobuf_encoding()),
    });
    if !field(c, "seed").is_empty() {
        let k = keypair(field(c, "seed"))?;
        let again = SignedEnvelope::new(&k, domain, payload_type, payload).map_err(|e| e.to_string())?;
        out["resealed"] = json!(hex(&again.into_protobuf_encoding()));
    }
    Ok(out)
}

/// A peer record as rust-libp2p reads go's format (`from_signed_envelope_interop`: domain
/// libp2p-peer-record, payload type 03 01); it checks the signer is the record's peer.
fn peer_record(c: &Value) -> Result<Value, String> {
    let raw = unhex(field(c, "hex"))?;
    let env = SignedEnvelope::from_protobuf_encoding(&raw).map_err(|e| e.to_string())?;
    let rec = PeerRecord::from_signed_envelope_interop(env.clone()).map_err(|e| e.to_string())?;
    let mut out = json!({
        "peerId": rec.peer_id().to_string(),
        "seq": rec.seq().to_string(),
        "addrs": rec.addresses().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "reencoded": hex(&env.into_protobuf_encoding()),
    });
    if !field(c, "seed").is_empty() {
        let k = keypair(field(c, "seed"))?;
        let env = rec.to_signed_envelope();
        let (payload, _) = env.payload_and_signing_key("libp2p-peer-record".into(), &[3, 1]).map_err(|e| e.to_string())?;
        let again = SignedEnvelope::new(&k, "libp2p-peer-record".into(), vec![3, 1], payload.to_vec()).map_err(|e| e.to_string())?;
        out["resealed"] = json!(hex(&again.into_protobuf_encoding()));
    }
    Ok(out)
}

fn kad_distance(c: &Value) -> Result<Value, String> {
    let a = KBucketKey::new(unhex(field(c, "a"))?);
    let b = KBucketKey::new(unhex(field(c, "b"))?);
    let d = a.distance(&b);
    let cpl = match d.ilog2() {
        None => 256,
        Some(i) => 255 - i,
    };
    Ok(json!({
        "kadKeyA": hex(a.hashed_bytes()),
        "kadKeyB": hex(b.hashed_bytes()),
        "distance": hex(&d.0.to_big_endian()),
        "commonPrefixLength": cpl,
    }))
}

/// request_response's own codec reads the body (to EOF, as on a stream) and writes it back.
async fn reqresp_with<C>(mut codec: C, request: bool, body: Vec<u8>) -> Result<Value, String>
where
    C: request_response::Codec<Protocol = StreamProtocol, Request = Req, Response = Resp>,
{
    let p = StreamProtocol::new("/weft/vectors");
    let mut input = futures::io::Cursor::new(body);
    let mut again = futures::io::Cursor::new(Vec::new());
    let value = if request {
        let r = codec.read_request(&p, &mut input).await.map_err(|e| e.to_string())?;
        let v = json!({ "id": r.id, "payload": hex(&r.payload), "delay_ms": r.delay_ms, "resp_len": r.resp_len, "omit": r.omit });
        codec.write_request(&p, &mut again, r).await.map_err(|e| e.to_string())?;
        v
    } else {
        let r = codec.read_response(&p, &mut input).await.map_err(|e| e.to_string())?;
        let v = json!({ "id": r.id, "payload": hex(&r.payload) });
        codec.write_response(&p, &mut again, r).await.map_err(|e| e.to_string())?;
        v
    };
    Ok(json!({ "value": value, "encoded": hex(&again.into_inner()) }))
}

fn reqresp(c: &Value) -> Result<Value, String> {
    let body = unhex(field(c, "hex"))?;
    let request = field(c, "direction") == "request";
    futures::executor::block_on(async {
        match field(c, "codec") {
            "cbor" => reqresp_with(request_response::cbor::codec::Codec::<Req, Resp>::default(), request, body).await,
            "json" => reqresp_with(request_response::json::codec::Codec::<Req, Resp>::default(), request, body).await,
            other => Err(format!("unknown codec {other}")),
        }
    })
}

fn run(c: &Value) -> Result<Value, String> {
    match field(c, "op") {
        "peer-id-seed" => peer_id_seed(c),
        "envelope" => envelope(c),
        "peer-record" => peer_record(c),
        "kad-distance" => kad_distance(c),
        "reqresp" => reqresp(c),
        other => Err(format!("unknown op {other:?}")),
    }
}

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).expect("stdin");
    let checks: Vec<Value> = serde_json::from_str(&input).expect("a JSON array of checks");
    let answers: Vec<Value> = checks
        .iter()
        .map(|c| match run(c) {
            Ok(out) => json!({ "ref": c["ref"], "out": out }),
            Err(e) => json!({ "ref": c["ref"], "error": e }),
        })
        .collect();
    println!("{}", serde_json::to_string(&answers).expect("json"));
}
