//! The stdio transport, with the JSON-RPC errors a line that is not a message deserves.
//!
//! rmcp's own stdio transport skips a line it cannot read and answers nothing, so a client that
//! sent broken JSON waits for its timeout. Here every line from stdin is checked first: one that
//! is not JSON (or nests deeper than [`MAX_DEPTH`], or is longer than [`MAX_LINE`]) is answered
//! with a parse error (-32700, id null); JSON that is not a JSON-RPC 2.0 message (a batch, a
//! bare value, no `method`/`result`/`error`) with an invalid-request error (-32600, its id when it
//! has one). Good lines go on to rmcp unchanged. One writer task owns stdout and writes whole
//! lines, so an error never lands inside one of rmcp's messages.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;

/// The longest line read; a longer one is answered with a parse error and skipped.
pub const MAX_LINE: usize = 16 << 20;
/// The deepest nesting of arrays and objects in a message.
pub const MAX_DEPTH: usize = 64;

/// What to do with one line from the client.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A JSON-RPC message: on to rmcp.
    Message,
    /// Nothing (a blank line).
    Blank,
    /// Answer with this error instead.
    Error(Value),
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// How deeply a JSON text nests, counted without parsing it (strings skipped), stopping early
/// past `limit`.
fn depth_over(text: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Check one line (without its newline).
pub fn check(line: &[u8]) -> Line {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    if depth_over(line, MAX_DEPTH) {
        return Line::Error(error(
            Value::Null,
            -32700,
            &format!("Parse error: nested deeper than {MAX_DEPTH}"),
        ));
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Line::Error(error(Value::Null, -32700, &format!("Parse error: {e}")));
        }
    };
    let Value::Object(message) = &value else {
        return Line::Error(error(
            Value::Null,
            -32600,
            "Invalid Request: a message is one JSON object (batches are not part of MCP)",
        ));
    };
    let id = message
        .get("id")
        .filter(|id| id.is_string() || id.is_number())
        .cloned()
        .unwrap_or(Value::Null);
    let versioned = message.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let method = message.get("method").is_some_and(Value::is_string);
    let answer = message.contains_key("result") || message.contains_key("error");
    if !versioned || !(method || answer) {
        return Line::Error(error(
            id,
            -32600,
            "Invalid Request: expected {\"jsonrpc\": \"2.0\", \"method\": ...}",
        ));
    }
    Line::Message
}

/// Read lines of at most [`MAX_LINE`] bytes; a longer one comes back as `Err(())` (its rest
/// skipped). `None` at the end of input.
async fn next_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    line: &mut Vec<u8>,
) -> Option<Result<(), ()>> {
    line.clear();
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf().await {
            Ok(b) => b,
            Err(_) => return None,
        };
        if available.is_empty() {
            return if line.is_empty() && !too_long {
                None
            } else {
                Some(if too_long { Err(()) } else { Ok(()) })
            };
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(available.len());
        reader.consume(used);
        if done.is_some() {
            return Some(if too_long { Err(()) } else { Ok(()) });
        }
    }
}

/// Start the checked transport over `input` and `output`; rmcp gets the returned pair.
pub fn checked<R, W>(input: R, output: W) -> (DuplexStream, DuplexStream)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (to_rmcp, mut feed) = tokio::io::duplex(1 << 16);
    let (from_rmcp, drain) = tokio::io::duplex(1 << 16);
    let (errors_tx, mut errors_rx) = mpsc::unbounded_channel::<Value>();
    tokio::spawn(async move {
        let mut reader = BufReader::new(input);
        let mut line = Vec::new();
        while let Some(read) = next_line(&mut reader, &mut line).await {
            let verdict = match read {
                Ok(()) => check(&line),
                Err(()) => Line::Error(error(
                    Value::Null,
                    -32700,
                    &format!("Parse error: a message longer than {MAX_LINE} bytes"),
                )),
            };
            match verdict {
                Line::Blank => {}
                Line::Error(e) => {
                    let _ = errors_tx.send(e);
                }
                Line::Message => {
                    line.push(b'\n');
                    if feed.write_all(&line).await.is_err() {
                        break;
                    }
                }
            }
        }
        // End of input: rmcp sees its input end and closes the session.
        let _ = feed.shutdown().await;
    });
    tokio::spawn(async move {
        let mut output = output;
        let mut lines = BufReader::new(drain).lines();
        let mut errors_open = true;
        loop {
            let text = tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(line)) => line,
                    _ => break,
                },
                e = errors_rx.recv(), if errors_open => match e {
                    Some(e) => e.to_string(),
                    None => {
                        errors_open = false;
                        continue;
                    }
                },
            };
            let written = async {
                output.write_all(text.as_bytes()).await?;
                output.write_all(b"\n").await?;
                output.flush().await
            };
            if written.await.is_err() {
                break;
            }
        }
    });
    (to_rmcp, from_rmcp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_bad_line_gets_its_error() {
        let code = |line: &str| match check(line.as_bytes()) {
            Line::Error(e) => (e["error"]["code"].as_i64().unwrap(), e["id"].clone()),
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":4,"method":"tools/ca"#).0,
            -32700
        );
        assert_eq!(code(&"[".repeat(10_000)).0, -32700);
        assert_eq!(
            code(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).0,
            -32600
        );
        assert_eq!(
            code(r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#),
            (-32600, json!(7))
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":"x"}"#), (-32600, json!("x")));
        assert_eq!(
            check(br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":"[[[[["}}"#),
            Line::Message
        );
        assert_eq!(check(b"   "), Line::Blank);
    }
}
