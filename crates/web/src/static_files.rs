//! Static assets (Bootstrap Italia, Varco's stylesheet and its small
//! progressive-enhancement script), compiled into the
//! binary so `varco serve` needs no files beside it.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

macro_rules! assets {
    ($($path:literal => $mime:literal),* $(,)?) => {
        const ASSETS: &[(&str, &str, &[u8])] = &[
            $(($path, $mime, include_bytes!(concat!("../static/", $path)))),*
        ];
    };
}

assets! {
    "varco.css" => "text/css; charset=utf-8",
    "varco.js" => "text/javascript; charset=utf-8",
    "bootstrap-italia/css/bootstrap-italia.min.css" => "text/css; charset=utf-8",
    "bootstrap-italia/css/fonts.css" => "text/css; charset=utf-8",
    "bootstrap-italia/svg/sprites.svg" => "image/svg+xml",
    "bootstrap-italia/LICENSE" => "text/plain; charset=utf-8",
    "bootstrap-italia/fonts/Titillium_Web/OFL.txt" => "text/plain; charset=utf-8",
    "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-300.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-300italic.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-regular.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-italic.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-600.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-600italic.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-700.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-700italic.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Lora/OFL.txt" => "text/plain; charset=utf-8",
    "bootstrap-italia/fonts/Lora/lora-v20-latin-ext_latin-regular.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Lora/lora-v20-latin-ext_latin-italic.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Lora/lora-v20-latin-ext_latin-700.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Lora/lora-v20-latin-ext_latin-700italic.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Roboto_Mono/LICENSE.txt" => "text/plain; charset=utf-8",
    "bootstrap-italia/fonts/Roboto_Mono/roboto-mono-v13-latin-ext_latin-regular.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Roboto_Mono/roboto-mono-v13-latin-ext_latin-italic.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Roboto_Mono/roboto-mono-v13-latin-ext_latin-700.woff2" => "font/woff2",
    "bootstrap-italia/fonts/Roboto_Mono/roboto-mono-v13-latin-ext_latin-700italic.woff2" => "font/woff2",
}

/// `GET /static/{*path}`: a bundled asset with its MIME type, cached for a day; 404 for any
/// other path.
pub async fn serve(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, mime, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
