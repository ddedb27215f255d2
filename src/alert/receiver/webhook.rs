//! Generic webhook: the documented linkpatrol JSON ([`Message::webhook_json`]), POSTed as is.
//! Any 2xx answer counts as accepted.

use super::Request;
use crate::alert::message::Message;
use crate::topology::alerts::Receiver;

/// The request.
pub fn request(receiver: &Receiver, message: &Message) -> Request {
    Request {
        url: receiver.url.expose().to_owned(),
        body: message.webhook_json(&receiver.mention),
    }
}
