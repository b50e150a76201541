//! The UAS side of the endpoint task: new requests, server transactions,
//! ACK and CANCEL (RFC 3261 §9.2, §17.2), requests inside a dialog
//! (§12.2.2) and the responses sent on a transaction's behalf.

use super::super::message::response_fallback;
use super::*;

impl Core {
    pub(super) async fn on_request(&mut self, request: Request) {
        let key = ServerKey::for_request(&request);
        if self.servers.contains_key(&key) {
            return self.on_known_transaction(key, request).await;
        }
        match &request.method {
            Method::Ack => return self.on_ack(request),
            Method::Cancel => return self.on_cancel(request).await,
            _ => {}
        }
        if let Some(refusal) = screening::screen(&request) {
            return self.reply(request, refusal.status, refusal.headers).await;
        }
        if request.to_tag().is_some() {
            return self.on_in_dialog(request).await;
        }
        match request.method {
            Method::Invite if self.draining => {
                self.reply(request, StatusCode::SERVICE_UNAVAILABLE, Vec::new())
                    .await
            }
            Method::Invite => self.on_new_invite(request).await,
            // RFC 3261 §15.1.2: a BYE that matches no dialog gets 481.
            Method::Bye => {
                self.reply(
                    request,
                    StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                    Vec::new(),
                )
                .await
            }
            Method::Options => {
                let server = self.new_non_invite(request, None);
                self.deliver(Incoming::Options, server).await;
            }
            _ => {
                let server = self.new_non_invite(request, None);
                self.deliver(Incoming::Request, server).await;
            }
        }
    }

    pub(super) async fn deliver(
        &mut self,
        wrap: fn(NonInviteServer) -> Incoming,
        server: Option<NonInviteServer>,
    ) {
        let Some(server) = server else { return };
        if let Err(error) = self.incoming.try_send(wrap(server)) {
            // The TU is overloaded or gone; the handle's drop answers 500.
            tracing::warn!(%error, "incoming queue unavailable");
        }
    }

    /// A request for a transaction we have: a retransmission, or the ACK
    /// for our non-2xx final response.
    pub(super) async fn on_known_transaction(&mut self, key: ServerKey, request: Request) {
        let now = Instant::now();
        let Some(entry) = self.servers.get_mut(&key) else {
            return;
        };
        let actions = match (&mut entry.machine, &request.method) {
            (ServerMachine::Invite(machine), Method::Ack) => {
                if machine.state() == ServerInviteState::Accepted {
                    // The ACK for a 2xx is its own transaction (§17.1.1.3).
                    return self.on_ack(request);
                }
                machine.on_ack(now)
            }
            (ServerMachine::Invite(machine), _) => {
                bump(&self.counters.retransmissions_absorbed);
                machine.on_retransmission()
            }
            (ServerMachine::NonInvite(machine), _) => {
                bump(&self.counters.retransmissions_absorbed);
                machine.on_retransmission()
            }
        };
        self.run_server_actions(&key, actions).await;
    }

    /// ACK outside a server transaction: the ACK for a 2xx (§13.3.1.4).
    pub(super) fn on_ack(&mut self, request: Request) {
        let Some(local_tag) = request.to_tag() else {
            return;
        };
        let key = DialogKey {
            call_id: request.call_id.clone(),
            local_tag: local_tag.to_owned(),
        };
        let Some(dialog) = self.dialogs.get_mut(&key) else {
            return;
        };
        if dialog
            .pending_ack
            .as_ref()
            .is_some_and(|p| p.cseq == request.cseq)
            && let Some(pending) = dialog.pending_ack.take()
        {
            let _ = pending.reply.send(Ok(request.body.clone()));
        } else {
            bump(&self.counters.retransmissions_absorbed);
        }
    }

    /// RFC 3261 §9.2: 200 to the CANCEL, 487 to the INVITE it matches.
    pub(super) async fn on_cancel(&mut self, request: Request) {
        let invite_key = ServerKey::of_invite(&request);
        let proceeding = self.servers.get(&invite_key).is_some_and(|e| {
            matches!(&e.machine, ServerMachine::Invite(m) if m.state() == ServerInviteState::Proceeding)
        });
        if !self.servers.contains_key(&invite_key) {
            return self
                .reply(
                    request,
                    StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                    Vec::new(),
                )
                .await;
        }
        self.reply(request, StatusCode::OK, Vec::new()).await;
        if proceeding {
            if let Some(cancel) = self
                .servers
                .get_mut(&invite_key)
                .and_then(|entry| entry.cancel.take())
            {
                let _ = cancel.send(());
            }
            self.respond_in(&invite_key, StatusCode::REQUEST_TERMINATED, &[], None)
                .await;
        }
    }

    pub(super) async fn on_in_dialog(&mut self, request: Request) {
        let key = DialogKey {
            call_id: request.call_id.clone(),
            local_tag: request.to_tag().unwrap_or_default().to_owned(),
        };
        let Some(dialog) = self.dialogs.get_mut(&key) else {
            return self
                .reply(
                    request,
                    StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                    Vec::new(),
                )
                .await;
        };
        // RFC 3261 §12.2.2: a request with a CSeq lower than the last one
        // the peer used in this dialog is out of order: 500.
        if request.cseq < dialog.state.remote_cseq {
            return self
                .reply(request, StatusCode::SERVER_INTERNAL_ERROR, Vec::new())
                .await;
        }
        dialog.state.remote_cseq = request.cseq;
        if request.method == Method::Bye
            && let Some(pending) = dialog.pending_ack.take()
        {
            // The ACK of our 2xx was lost and the caller has hung up
            // already (RFC 3261 §15: a BYE ends the dialog whatever its
            // state). The BYE gets its 200 here, and the TU, still waiting
            // for the ACK, learns that the dialog has ended.
            let _ = pending.reply.send(Err(SipError::DialogEnded {
                call_id: key.call_id.clone(),
            }));
            self.dialogs.remove(&key);
            return self.reply(request, StatusCode::OK, Vec::new()).await;
        }
        let event = match request.method {
            Method::Invite => {
                if let Some(dialog) = self.dialogs.get_mut(&key) {
                    dialog.state.refresh_target(&request);
                }
                self.new_invite_server(request, key.local_tag.clone())
                    .await
                    .map(|server| DialogEvent::ReInvite(ReInvite { server }))
            }
            Method::Bye => {
                // RFC 3261 §15.1.2: the BYE ends the dialog and gets 200
                // whatever the TU makes of it, so the endpoint answers at
                // once instead of waiting for the call's task.
                self.reply(request, StatusCode::OK, Vec::new()).await;
                Some(DialogEvent::Bye)
            }
            Method::Info => self
                .new_non_invite(request, Some(&key))
                .map(DialogEvent::Info),
            _ => self
                .new_non_invite(request, Some(&key))
                .map(DialogEvent::Other),
        };
        let Some(event) = event else { return };
        let is_bye = matches!(event, DialogEvent::Bye);
        if let Some(dialog) = self.dialogs.get(&key) {
            // A dialog whose handle is gone: the event's drop answers 500
            // (a request needing an answer) or nothing (the BYE).
            let _ = dialog.state.events.send(Box::new(event));
        }
        if is_bye {
            // RFC 3261 §15.1.2: the dialog ends with the BYE.
            self.dialogs.remove(&key);
        }
    }

    pub(super) async fn on_new_invite(&mut self, request: Request) {
        let Some(server) = self.new_invite_server(request, new_tag()).await else {
            return;
        };
        if let Err(error) = self.incoming.try_send(Incoming::Invite(server)) {
            tracing::warn!("incoming queue unavailable, answering 503");
            if let mpsc::error::TrySendError::Full(Incoming::Invite(mut server))
            | mpsc::error::TrySendError::Closed(Incoming::Invite(mut server)) = error
            {
                server.done = true;
                let key = server.tx.clone();
                drop(server);
                self.respond_in(&key, StatusCode::SERVICE_UNAVAILABLE, &[], None)
                    .await;
            }
        }
    }

    /// Create a server INVITE transaction, send 100 Trying (§17.2.1) and
    /// make the TU handle.
    pub(super) async fn new_invite_server(
        &mut self,
        request: Request,
        local_tag: String,
    ) -> Option<InviteServer> {
        let commands = self.commands.upgrade()?;
        let key = ServerKey::for_request(&request);
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let machine = ServerInvite::new(request.transport.is_reliable(), self.timers);
        self.servers.insert(
            key.clone(),
            ServerEntry {
                machine: ServerMachine::Invite(machine),
                request: request.clone(),
                local_tag: local_tag.clone(),
                cancel: Some(cancel_tx),
            },
        );
        self.respond_in(&key, StatusCode::TRYING, &[], None).await;
        Some(InviteServer {
            request,
            tx: key,
            local_tag,
            commands,
            cancel: Some(cancel_rx),
            done: false,
        })
    }

    pub(super) fn new_non_invite(
        &mut self,
        request: Request,
        dialog: Option<&DialogKey>,
    ) -> Option<NonInviteServer> {
        let commands = self.commands.upgrade()?;
        let key = ServerKey::for_request(&request);
        let machine = ServerNonInvite::new(request.transport.is_reliable(), self.timers);
        let local_tag = dialog.map(|d| d.local_tag.clone()).unwrap_or_else(new_tag);
        self.servers.insert(
            key.clone(),
            ServerEntry {
                machine: ServerMachine::NonInvite(machine),
                request: request.clone(),
                local_tag,
                cancel: None,
            },
        );
        Some(NonInviteServer {
            request,
            tx: key,
            commands,
            done: false,
        })
    }

    /// Answer a request on the endpoint's own account, in a fresh server
    /// transaction so retransmissions get the same answer.
    pub(super) async fn reply(
        &mut self,
        request: Request,
        status: StatusCode,
        headers: Vec<(String, String)>,
    ) {
        let local_tag = request.to_tag().map(str::to_owned).unwrap_or_else(new_tag);
        let bytes = build_response(
            &request,
            status,
            &self.config.user_agent,
            &ResponseParts {
                to_tag: Some(&local_tag),
                headers: &headers,
                ..ResponseParts::default()
            },
        );
        self.answer_new(request, status, bytes).await;
    }

    pub(super) async fn answer_new(
        &mut self,
        request: Request,
        status: StatusCode,
        bytes: Vec<u8>,
    ) {
        let key = ServerKey::for_request(&request);
        let reliable = request.transport.is_reliable();
        let now = Instant::now();
        let (machine, actions) = if request.method == Method::Invite {
            let mut machine = ServerInvite::new(reliable, self.timers);
            let actions = machine.on_response(status, bytes, now);
            (ServerMachine::Invite(machine), actions)
        } else {
            let mut machine = ServerNonInvite::new(reliable, self.timers);
            let actions = machine.on_response(status, bytes, now);
            (ServerMachine::NonInvite(machine), actions)
        };
        self.servers.insert(
            key.clone(),
            ServerEntry {
                machine,
                request,
                local_tag: String::new(),
                cancel: None,
            },
        );
        self.run_server_actions(&key, actions).await;
    }

    /// Send a response in an existing server transaction.
    pub(super) async fn respond_in(
        &mut self,
        key: &ServerKey,
        status: StatusCode,
        headers: &[(String, String)],
        body: Option<(&str, &[u8])>,
    ) -> Option<Vec<u8>> {
        let now = Instant::now();
        let entry = self.servers.get_mut(key)?;
        let bytes = build_response(
            &entry.request,
            status,
            &self.config.user_agent,
            &ResponseParts {
                to_tag: Some(&entry.local_tag),
                headers,
                body,
                ..ResponseParts::default()
            },
        );
        let actions = match &mut entry.machine {
            ServerMachine::Invite(machine) => machine.on_response(status, bytes.clone(), now),
            ServerMachine::NonInvite(machine) => machine.on_response(status, bytes.clone(), now),
        };
        if actions.is_empty() {
            return None;
        }
        self.run_server_actions(key, actions).await;
        Some(bytes)
    }

    pub(super) async fn run_server_actions(&mut self, key: &ServerKey, actions: Vec<Action>) {
        let Some(entry) = self.servers.get(key) else {
            return;
        };
        let dest = response_destination(&entry.request);
        let fallback = response_fallback(&entry.request);
        let transport = entry.request.transport;
        for action in actions {
            match action {
                Action::Send(bytes) => self.send_response(dest, fallback, transport, bytes).await,
                Action::Schedule(timer, at) => {
                    self.schedule(at, TimerTarget::Server(key.clone(), timer))
                }
                Action::Terminated => {
                    self.servers.remove(key);
                }
                Action::Timeout | Action::DeliverResponse(_) => {}
            }
        }
    }
}
