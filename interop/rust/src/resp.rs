//! A tiny Redis (RESP2) client: just enough for RPUSH, BLPOP, GET and SET. The address is
//! `host:port` (TCP) or `unix:<path>` (a Unix socket: network namespaces share the filesystem).

use std::time::Duration;

use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader},
    net::{TcpStream, UnixStream},
};

/// A TCP or Unix-socket connection to the server.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

#[derive(Debug)]
#[allow(dead_code)]
pub enum Reply {
    Simple(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

pub struct Redis {
    conn: BufReader<Box<dyn Io>>,
}

async fn open(addr: &str) -> std::io::Result<Box<dyn Io>> {
    if let Some(path) = addr.strip_prefix("unix:") {
        return Ok(Box::new(UnixStream::connect(path).await?));
    }
    let s = TcpStream::connect(addr).await?;
    let _ = s.set_nodelay(true);
    Ok(Box::new(s))
}

impl Redis {
    /// Connects, retrying for up to `wait` (the coordination server may still be starting).
    pub async fn connect(addr: &str, wait: Duration) -> Result<Self, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match open(addr).await {
                Ok(s) => return Ok(Self { conn: BufReader::new(s) }),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!("cannot connect to redis at {addr}: {e}"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    pub async fn cmd(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.conn.get_mut().write_all(&out).await.map_err(|e| format!("redis write: {e}"))?;
        self.read_reply().await
    }

    async fn read_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        let n = self.conn.read_line(&mut line).await.map_err(|e| format!("redis read: {e}"))?;
        if n == 0 {
            return Err("redis closed the connection".into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    fn read_reply(&mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply, String>> + Send + '_>> {
        Box::pin(async move {
            let line = self.read_line().await?;
            let (kind, rest) = line.split_at(1.min(line.len()));
            let num = || rest.parse::<i64>().map_err(|_| format!("bad redis reply: {line}"));
            match kind {
                "+" => Ok(Reply::Simple(rest.to_string())),
                "-" => Err(format!("redis error: {rest}")),
                ":" => Ok(Reply::Int(num()?)),
                "$" => {
                    let n = num()?;
                    if n < 0 {
                        return Ok(Reply::Bulk(None));
                    }
                    let mut buf = vec![0u8; n as usize + 2];
                    self.conn.read_exact(&mut buf).await.map_err(|e| format!("redis read: {e}"))?;
                    buf.truncate(n as usize);
                    Ok(Reply::Bulk(Some(buf)))
                }
                "*" => {
                    let n = num()?;
                    if n < 0 {
                        return Ok(Reply::Array(None));
                    }
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        items.push(self.read_reply().await?);
                    }
                    Ok(Reply::Array(Some(items)))
                }
                _ => Err(format!("bad redis reply: {line}")),
            }
        })
    }

    pub async fn rpush(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.cmd(&["RPUSH", key, value]).await.map(|_| ())
    }

    /// GET; Ok(None) when the key does not exist.
    pub async fn get(&mut self, key: &str) -> Result<Option<String>, String> {
        match self.cmd(&["GET", key]).await? {
            Reply::Bulk(v) => Ok(v.map(|v| String::from_utf8_lossy(&v).into_owned())),
            other => Err(format!("unexpected GET reply: {other:?}")),
        }
    }

    pub async fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.cmd(&["SET", key, value]).await.map(|_| ())
    }

    /// BLPOP with a timeout in seconds; Ok(None) when it timed out.
    pub async fn blpop(&mut self, key: &str, timeout_secs: u64) -> Result<Option<String>, String> {
        match self.cmd(&["BLPOP", key, &timeout_secs.to_string()]).await? {
            Reply::Array(Some(items)) if items.len() == 2 => match &items[1] {
                Reply::Bulk(Some(v)) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
                other => Err(format!("unexpected BLPOP item: {other:?}")),
            },
            Reply::Array(None) | Reply::Bulk(None) => Ok(None),
            other => Err(format!("unexpected BLPOP reply: {other:?}")),
        }
    }
}
