//! The rendering of [`ApiError`] as the AWS Query error document (XML) or
//! its JSON form: the wire side of the error type, kept out of `error.rs`
//! so the error table does not depend on the protocol layer.
//!
//! JSON shape (for `Accept: application/json`, which STS honours):
//! `{"Error":{"Code":"…","Message":"…","Type":"Sender"},"RequestId":"…"}` —
//! the XML `ErrorResponse` element's content converted member by member,
//! the same convention the success responses follow.

use crate::error::ApiError;
use crate::protocol::response::{json_string, xml_escape, ResponseFormat};
use crate::Service;

impl ApiError {
    /// The AWS Query error document (`text/xml`).
    pub fn to_xml(&self, service: Service, request_id: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{t}</Type><Code>{c}</Code><Message>{m}</Message></Error><RequestId>{r}</RequestId></ErrorResponse>",
            ns = service.xml_namespace(),
            t = self.fault().as_str(),
            c = self.code.as_str(),
            m = xml_escape(&self.message),
            r = xml_escape(request_id),
        )
    }

    /// The JSON error document (`application/json`), see the module docs.
    pub fn to_json(&self, request_id: &str) -> String {
        format!(
            "{{\"Error\":{{\"Code\":{c},\"Message\":{m},\"Type\":{t}}},\"RequestId\":{r}}}",
            c = json_string(self.code.as_str()),
            m = json_string(&self.message),
            t = json_string(self.fault().as_str()),
            r = json_string(request_id),
        )
    }

    /// Renders in the requested format: (content type, body).
    pub fn render(
        &self,
        service: Service,
        format: ResponseFormat,
        request_id: &str,
    ) -> (&'static str, String) {
        match format {
            ResponseFormat::Xml => ("text/xml", self.to_xml(service, request_id)),
            ResponseFormat::Json => ("application/json", self.to_json(request_id)),
        }
    }
}
