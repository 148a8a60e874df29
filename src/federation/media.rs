//! The `multipart/mixed` answer of `GET /_matrix/federation/v1/media/download/{mediaId}`
//! (server-server API, Content Repository): exactly two parts, the JSON metadata (`{}`)
//! and the file bytes with their own `Content-Type` and `Content-Disposition`.

/// The boundary of every multipart answer a fake server gives (it never occurs in the
/// small bodies scenarios serve).
pub const BOUNDARY: &str = "mxharness-media-boundary-6f1c";

/// (`Content-Type` of the whole answer, body) for a file of `content_type` with these
/// bytes and, if given, this `Content-Disposition` on its part.
pub fn multipart_download(
    content_type: &str,
    content_disposition: Option<&str>,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    let mut line = |s: &str| {
        body.extend_from_slice(s.as_bytes());
        body.extend_from_slice(b"\r\n");
    };
    line(&format!("--{BOUNDARY}"));
    line("Content-Type: application/json");
    line("");
    line("{}");
    line(&format!("--{BOUNDARY}"));
    line(&format!("Content-Type: {content_type}"));
    if let Some(cd) = content_disposition {
        line(&format!("Content-Disposition: {cd}"));
    }
    line("");
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/mixed; boundary={BOUNDARY}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_parts_metadata_then_the_file() {
        let (ct, body) = multipart_download(
            "text/plain",
            Some("attachment; filename*=utf-8''%C3%A9t%C3%A9.txt"),
            b"hello",
        );
        assert_eq!(ct, format!("multipart/mixed; boundary={BOUNDARY}"));
        let text = String::from_utf8(body).expect("utf-8");
        let parts: Vec<&str> = text.split(&format!("--{BOUNDARY}")).collect();
        // preamble, two parts, closing "--\r\n"
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[1], "\r\nContent-Type: application/json\r\n\r\n{}\r\n");
        assert_eq!(
            parts[2],
            "\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.txt\r\n\r\nhello\r\n"
        );
        assert_eq!(parts[3], "--\r\n");
    }
}
