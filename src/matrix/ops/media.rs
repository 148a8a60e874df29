//! Content repository: `upload_media`, `create_media`, `get_media_config`,
//! `download_media`, `get_thumbnail`.

use ruma::UInt;
use ruma::api::client::authenticated_media::{
    get_content, get_content_as_filename, get_content_thumbnail, get_media_config,
};
use ruma::api::client::media::{create_content, create_mxc_uri};
use ruma::media::Method;

use super::Operation;
use super::args::uint;
use super::dispatch::{Variants, has};
use super::glue::{NoArgs, OpContext, TypedOp, parse_id};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "upload_media",
            "Upload content to the content repository",
            ("POST", "/_matrix/media/v3/upload"),
            build_upload_media,
        ),
        TypedOp::new(
            "create_media",
            "Reserve a content URI to upload content to later",
            ("POST", "/_matrix/media/v1/create"),
            |_: NoArgs, _| Ok(create_mxc_uri::v1::Request::default()),
        ),
        TypedOp::new(
            "get_media_config",
            "Get the configuration of the content repository",
            ("GET", "/_matrix/client/v1/media/config"),
            |_: NoArgs, _| Ok(get_media_config::v1::Request::new()),
        ),
        Variants {
            name: "download_media",
            summary: "Download content from the content repository",
            endpoint: (
                "GET",
                "/_matrix/client/v1/media/download/{serverName}/{mediaId}"
            ),
            select: |args| usize::from(has(args, "filename")),
            variants: op_list![
                TypedOp::new(
                    "download_media",
                    "Download content from the content repository",
                    (
                        "GET",
                        "/_matrix/client/v1/media/download/{serverName}/{mediaId}"
                    ),
                    build_download_plain,
                ),
                TypedOp::new(
                    "download_media",
                    "Download content from the content repository under a file name",
                    (
                        "GET",
                        "/_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}"
                    ),
                    build_download_named,
                ),
            ],
        },
        TypedOp::new(
            "get_thumbnail",
            "Download a thumbnail of content from the content repository",
            (
                "GET",
                "/_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}"
            ),
            build_get_thumbnail,
        ),
    ]
}

/// Arguments of `upload_media`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadMediaArgs {
    /// The content to upload, as text (sent as its UTF-8 bytes).
    pub content: String,
    /// The `Content-Type` of the upload; defaults to `text/plain`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The name of the file being uploaded.
    #[serde(default)]
    pub filename: Option<String>,
}

fn build_upload_media(
    a: UploadMediaArgs,
    _: &OpContext<'_>,
) -> Result<create_content::v3::Request, String> {
    let mut req = create_content::v3::Request::new(a.content.into_bytes());
    req.content_type = Some(a.content_type.unwrap_or_else(|| "text/plain".to_owned()));
    req.filename = a.filename;
    Ok(req)
}

/// Arguments of `download_media`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadMediaArgs {
    /// The server name of the content URI (`mxc://{server_name}/{media_id}`).
    pub server_name: String,
    /// The media ID of the content URI.
    pub media_id: String,
    /// The file name the server should suggest (`/download/{serverName}/{mediaId}/{fileName}`).
    #[serde(default)]
    pub filename: Option<String>,
}

fn build_download_plain(
    a: DownloadMediaArgs,
    _: &OpContext<'_>,
) -> Result<get_content::v1::Request, String> {
    if a.filename.is_some() {
        return Err("`filename` is given: use the named form".into());
    }
    Ok(get_content::v1::Request::new(
        a.media_id,
        parse_id("server_name", &a.server_name)?,
    ))
}

fn build_download_named(
    a: DownloadMediaArgs,
    _: &OpContext<'_>,
) -> Result<get_content_as_filename::v1::Request, String> {
    let Some(filename) = a.filename else {
        return Err("`filename` is required for the named form".into());
    };
    Ok(get_content_as_filename::v1::Request::new(
        a.media_id,
        parse_id("server_name", &a.server_name)?,
        filename,
    ))
}

/// Arguments of `get_thumbnail`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetThumbnailArgs {
    /// The server name of the content URI.
    pub server_name: String,
    /// The media ID of the content URI.
    pub media_id: String,
    /// The desired width of the thumbnail, in pixels.
    pub width: u32,
    /// The desired height of the thumbnail, in pixels.
    pub height: u32,
    /// The resizing method: `crop` or `scale`.
    #[serde(default)]
    #[schemars(extend("enum" = ["crop", "scale"]))]
    pub method: Option<String>,
}

fn build_get_thumbnail(
    a: GetThumbnailArgs,
    _: &OpContext<'_>,
) -> Result<get_content_thumbnail::v1::Request, String> {
    let mut req = get_content_thumbnail::v1::Request::new(
        a.media_id,
        parse_id("server_name", &a.server_name)?,
        UInt::from(a.width),
        uint(a.height),
    );
    req.method = a.method.map(Method::from);
    Ok(req)
}
