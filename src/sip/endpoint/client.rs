//! The endpoint task's own requests and answers: the 2xx to an INVITE with
//! its retransmission until ACK (RFC 3261 §13.3.1.4), the BYE of a dialog
//! and the client transactions that carry it (§17.1.2).

use super::*;

impl Core {
    /// Send the 2xx and wait for the ACK; a new dialog is registered
    /// first so the ACK (an in-dialog request) finds it.
    pub(super) async fn answer(
        &mut self,
        tx: ServerKey,
        sdp: Vec<u8>,
        events: Option<mpsc::UnboundedSender<Box<DialogEvent>>>,
        reply: oneshot::Sender<Result<Vec<u8>, SipError>>,
    ) {
        let Some(entry) = self.servers.get(&tx) else {
            let _ = reply.send(Err(SipError::Cancelled));
            return;
        };
        let proceeding = matches!(&entry.machine, ServerMachine::Invite(m) if m.state() == ServerInviteState::Proceeding);
        if !proceeding {
            let _ = reply.send(Err(SipError::Cancelled));
            return;
        }
        let request = entry.request.clone();
        let key = DialogKey {
            call_id: request.call_id.clone(),
            local_tag: entry.local_tag.clone(),
        };
        if let Some(events) = events {
            let state = DialogState::from_invite(&request, &key.local_tag, events);
            self.dialogs.insert(
                key.clone(),
                DialogEntry {
                    state,
                    pending_ack: None,
                },
            );
        }
        if !self.dialogs.contains_key(&key) {
            let _ = reply.send(Err(SipError::DialogEnded {
                call_id: key.call_id,
            }));
            return;
        }
        let contact = format!(
            "<sip:{};transport={}>",
            self.transports.advertised_addr(request.source),
            request.transport.as_str().to_ascii_lowercase()
        );
        let headers = [
            ("Contact".to_owned(), contact),
            ("Allow".to_owned(), ALLOW.to_owned()),
        ];
        let body = Some(("application/sdp", sdp.as_slice()));
        let Some(bytes) = self.respond_in(&tx, StatusCode::OK, &headers, body).await else {
            let _ = reply.send(Err(SipError::Cancelled));
            return;
        };
        let now = Instant::now();
        let dest = response_destination(&request);
        if let Some(dialog) = self.dialogs.get_mut(&key) {
            dialog.pending_ack = Some(PendingAck {
                cseq: request.cseq,
                response: bytes,
                interval: self.timers.t1,
                reply,
                dest,
            });
        }
        // Over TCP the 2xx is not retransmitted (§13.3.1.4 applies to
        // unreliable transports), but the ACK wait still applies.
        if !request.transport.is_reliable() {
            self.schedule(
                now + self.timers.t1,
                TimerTarget::Retransmit2xx(key.clone(), request.cseq),
            );
        }
        self.schedule(
            now + self.timers.t1 * ACK_WAIT_MULTIPLIER,
            TimerTarget::AckTimeout(key, request.cseq),
        );
    }

    /// BYE in a client non-INVITE transaction (RFC 3261 §15.1.1); the
    /// dialog ends at once.
    pub(super) async fn send_bye(
        &mut self,
        key: DialogKey,
        reply: Option<oneshot::Sender<Result<StatusCode, SipError>>>,
    ) {
        let Some(mut dialog) = self.dialogs.remove(&key) else {
            if let Some(reply) = reply {
                let _ = reply.send(Err(SipError::DialogEnded {
                    call_id: key.call_id,
                }));
            }
            return;
        };
        let local_addr = self.transports.advertised_addr(dialog.state.peer);
        let request = dialog.state.bye(local_addr, &self.config.user_agent);
        let transport = dialog.state.transport;
        // Over TCP, the connection the call came on while it lives.
        let dest = if transport == Transport::Tcp && self.transports.is_connected(dialog.state.peer)
        {
            dialog.state.peer
        } else {
            dialog.state.next_hop()
        };
        let (machine, actions) = ClientNonInvite::start(
            request.to_bytes(),
            transport.is_reliable(),
            self.timers,
            Instant::now(),
        );
        let client_key = ClientKey {
            branch: request.branch.clone(),
            method: request.method.as_str().to_owned(),
            transport,
        };
        self.clients.insert(
            client_key.clone(),
            ClientEntry {
                machine,
                dest,
                transport,
                reply,
                method: request.method.as_str().to_owned(),
            },
        );
        self.run_client_actions(&client_key, actions).await;
    }

    pub(super) async fn on_response(&mut self, response: Response) {
        let Some(branch) = response.branch.clone() else {
            bump(&self.counters.dropped_unparseable);
            return;
        };
        let key = ClientKey {
            branch,
            method: response.cseq_method.clone(),
            transport: response.transport,
        };
        let Some(entry) = self.clients.get_mut(&key) else {
            // RFC 3261 §18.1.2: a response that matches nothing is discarded.
            return;
        };
        let actions = entry.machine.on_response(response.status, Instant::now());
        if actions.is_empty() {
            bump(&self.counters.retransmissions_absorbed);
        }
        self.run_client_actions(&key, actions).await;
    }

    pub(super) async fn run_client_actions(&mut self, key: &ClientKey, actions: Vec<Action>) {
        for action in actions {
            let Some(entry) = self.clients.get_mut(key) else {
                return;
            };
            match action {
                Action::Send(bytes) => {
                    let (dest, transport) = (entry.dest, entry.transport);
                    self.send(dest, transport, bytes).await;
                }
                Action::Schedule(timer, at) => {
                    self.schedule(at, TimerTarget::Client(key.clone(), timer))
                }
                Action::DeliverResponse(status) if status.is_final() => {
                    if let Some(reply) = entry.reply.take() {
                        let _ = reply.send(Ok(status));
                    }
                }
                Action::DeliverResponse(_) => {}
                Action::Timeout => {
                    if let Some(reply) = entry.reply.take() {
                        let _ = reply.send(Err(SipError::TransactionTimeout {
                            method: entry.method.clone(),
                            waited: self.timers.t1 * ACK_WAIT_MULTIPLIER,
                        }));
                    }
                }
                Action::Terminated => {
                    self.clients.remove(key);
                }
            }
        }
    }
}
