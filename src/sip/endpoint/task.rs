//! The endpoint task loop: transport events, commands from the handles
//! and the timer queue, and parsing each message into a request or a
//! response.

use super::*;

impl Core {
    pub(super) async fn run(
        mut self,
        mut events: mpsc::Receiver<TransportEvent>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        loop {
            let next_timer = self.timer_queue.keys().next().map(|(at, _)| *at);
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_transport_event(event).await,
                    None => break,
                },
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => break,
                },
                _ = sleep_until(next_timer.unwrap_or_else(Instant::now)), if next_timer.is_some() => {
                    self.on_timers_due().await;
                }
            }
        }
        tracing::debug!("SIP endpoint stopped");
    }

    pub(super) async fn on_transport_event(&mut self, event: TransportEvent) {
        match event {
            TransportEvent::Message {
                bytes,
                source,
                transport,
            } => self.on_message(&bytes, source, transport).await,
            TransportEvent::Connected { peer, writer } => {
                self.transports.on_connected(peer, writer)
            }
            TransportEvent::Closed { peer, malformed } => {
                if malformed {
                    bump(&self.counters.dropped_unparseable);
                }
                self.transports.on_closed(peer);
            }
            TransportEvent::Oversized => bump(&self.counters.dropped_unparseable),
            TransportEvent::TooLarge { head, source } => self.on_too_large(&head, source).await,
        }
    }

    /// A TCP message over the size limit, of which the header section was
    /// read: a request gets 513 (RFC 3261 §21.5.11) if it can be answered.
    pub(super) async fn on_too_large(&mut self, head: &[u8], source: SocketAddr) {
        bump(&self.counters.messages_in);
        let request = match parse(head, source, Transport::Tcp) {
            Ok(Message::Request(request)) | Err(ParseError::Invalid { request, .. }) => *request,
            _ => return bump(&self.counters.dropped_unparseable),
        };
        if request.method == Method::Ack {
            return bump(&self.counters.dropped_unparseable);
        }
        tracing::debug!(%source, "answering 513");
        self.reply(request, StatusCode::MESSAGE_TOO_LARGE, Vec::new())
            .await;
    }

    pub(super) async fn on_message(
        &mut self,
        bytes: &[u8],
        source: SocketAddr,
        transport: Transport,
    ) {
        bump(&self.counters.messages_in);
        match parse(bytes, source, transport) {
            Ok(Message::Request(request)) => self.on_request(*request).await,
            Ok(Message::Response(response)) => self.on_response(response).await,
            Err(ParseError::Invalid { reason, request }) => {
                if request.method == Method::Ack {
                    bump(&self.counters.dropped_unparseable);
                    return;
                }
                tracing::debug!(%source, %reason, "answering 400");
                bump(&self.counters.answered_bad_request);
                let host = self.transports.advertised_addr(source).ip().to_string();
                let bytes = build_bad_request(&request, &reason, &self.config.user_agent, &host);
                self.answer_new(*request, StatusCode::BAD_REQUEST, bytes)
                    .await;
            }
            Err(error) => {
                tracing::debug!(%source, %error, "dropping SIP message");
                bump(&self.counters.dropped_unparseable);
            }
        }
    }

    pub(super) async fn send(&mut self, dest: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        bump(&self.counters.messages_out);
        self.transports.send(dest, transport, bytes).await;
    }

    /// Send a response: over its request's connection while open, else to
    /// `fallback` (RFC 3261 §18.2.2, see `Transports::send_response`).
    pub(super) async fn send_response(
        &mut self,
        dest: SocketAddr,
        fallback: Option<SocketAddr>,
        transport: Transport,
        bytes: Vec<u8>,
    ) {
        bump(&self.counters.messages_out);
        self.transports
            .send_response(dest, fallback, transport, bytes)
            .await;
    }

    pub(super) fn schedule(&mut self, at: Instant, target: TimerTarget) {
        self.timer_seq += 1;
        self.timer_queue.insert((at, self.timer_seq), target);
    }

    pub(super) async fn on_timers_due(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.timer_queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let target = entry.remove();
            self.on_timer(target, now).await;
        }
    }

    pub(super) async fn on_timer(&mut self, target: TimerTarget, now: Instant) {
        match target {
            TimerTarget::Server(key, timer) => {
                let Some(entry) = self.servers.get_mut(&key) else {
                    return;
                };
                let actions = match &mut entry.machine {
                    ServerMachine::Invite(machine) => machine.on_timer(timer, now),
                    ServerMachine::NonInvite(machine) => machine.on_timer(timer, now),
                };
                self.run_server_actions(&key, actions).await;
            }
            TimerTarget::Client(key, timer) => {
                let Some(entry) = self.clients.get_mut(&key) else {
                    return;
                };
                let actions = entry.machine.on_timer(timer, now);
                self.run_client_actions(&key, actions).await;
            }
            TimerTarget::Retransmit2xx(key, cseq) => self.retransmit_2xx(key, cseq, now).await,
            TimerTarget::AckTimeout(key, cseq) => self.ack_timeout(key, cseq).await,
        }
    }

    /// RFC 3261 §13.3.1.4: resend the 2xx at T1, doubling up to T2.
    pub(super) async fn retransmit_2xx(&mut self, key: DialogKey, cseq: u32, now: Instant) {
        let Some(dialog) = self.dialogs.get_mut(&key) else {
            return;
        };
        let transport = dialog.state.transport;
        let Some(pending) = dialog.pending_ack.as_mut().filter(|p| p.cseq == cseq) else {
            return;
        };
        pending.interval = (pending.interval * 2).min(self.timers.t2);
        let (bytes, dest, next) = (
            pending.response.clone(),
            pending.dest,
            now + pending.interval,
        );
        self.send(dest, transport, bytes).await;
        self.schedule(next, TimerTarget::Retransmit2xx(key, cseq));
    }

    /// No ACK within 64*T1: hang up (RFC 3261 §13.3.1.4).
    pub(super) async fn ack_timeout(&mut self, key: DialogKey, cseq: u32) {
        let Some(dialog) = self.dialogs.get_mut(&key) else {
            return;
        };
        let Some(pending) = dialog.pending_ack.take_if(|p| p.cseq == cseq) else {
            return;
        };
        let waited = self.timers.t1 * ACK_WAIT_MULTIPLIER;
        let _ = pending.reply.send(Err(SipError::AckTimeout { waited }));
        self.send_bye(key, None).await;
    }

    pub(super) async fn on_command(&mut self, command: Command) {
        match command {
            Command::Respond {
                tx,
                status,
                headers,
                body,
            } => {
                let body = body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
                self.respond_in(&tx, status, &headers, body).await;
            }
            Command::Answer {
                tx,
                sdp,
                events,
                reply,
            } => self.answer(tx, sdp, events, reply).await,
            Command::Bye { dialog, reply } => self.send_bye(dialog, Some(reply)).await,
            Command::DialogGone(key) => {
                self.dialogs.remove(&key);
            }
            Command::Shutdown => self.draining = true,
        }
    }
}
