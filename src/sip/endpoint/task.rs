//! The endpoint task: its loop, and the one place that dispatches each
//! event (a message from the transports, a command from a handle, a timer
//! that came due) to the table that owns it: server transactions,
//! client transactions, dialogs. What needs no TU it answers here (the
//! UAS core's own refusals, RFC 3261 §8.2); what does, it hands up as a
//! handle. After each event it sends what the tables put in the outbox
//! and arms their timers: the only socket I/O of the endpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::super::dialog::{DialogEvent, DialogEvents, DialogKey, DialogState, ReInvite, new_tag};
use super::super::message::{
    ALLOW, Message, Method, ParseError, Request, Response, parse, response_destination,
};
use super::super::transaction::{ClientKey, ServerKey, Timers};
use super::super::transport::{TransportEvent, Transports};
use super::super::{SipConfig, SipError, StatusCode, Transport};
use super::clients::{ClientTable, InviteWaiter, Matched, ReInviteReply, StatusReply};
use super::counters::{CounterCells, bump};
use super::dialogs::{Ack, AckReply, DialogTable, InDialog, Sent2xx};
use super::handles::{InviteServer, NonInviteServer};
use super::outbox::{Delivery, Outbox, Outgoing};
use super::requests::{NewRequest, contact};
use super::screening::screen;
use super::servers::{Known, ServerTable};
use super::timers::{TimerQueue, TimerTarget};
use super::{Command, Incoming, InviteEvent};

/// The endpoint's state, owned by its task.
pub(super) struct Core {
    user_agent: String,
    transports: Transports,
    /// Weak, so that the task ends when the last handle is gone.
    commands: mpsc::WeakUnboundedSender<Command>,
    incoming: mpsc::Sender<Incoming>,
    counters: Arc<CounterCells>,
    servers: ServerTable,
    clients: ClientTable,
    dialogs: DialogTable,
    timers: TimerQueue,
    outbox: Outbox,
    /// Shutting down: new INVITEs get 503.
    draining: bool,
}

impl Core {
    pub(super) fn new(
        config: &SipConfig,
        transports: Transports,
        commands: mpsc::WeakUnboundedSender<Command>,
        incoming: mpsc::Sender<Incoming>,
        counters: Arc<CounterCells>,
    ) -> Core {
        let timers = Timers {
            t1: config.t1,
            t2: config.t2,
            t4: config.t4,
        };
        Core {
            user_agent: config.user_agent.clone(),
            transports,
            commands,
            incoming,
            counters,
            servers: ServerTable::new(timers, config.user_agent.clone()),
            clients: ClientTable::new(timers),
            dialogs: DialogTable::new(timers),
            timers: TimerQueue::default(),
            outbox: Outbox::default(),
            draining: false,
        }
    }

    /// Runs until the transports or every handle are gone.
    pub(super) async fn run(
        mut self,
        mut events: mpsc::Receiver<TransportEvent>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        loop {
            let next_timer = self.timers.next_deadline();
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_transport_event(event),
                    None => break,
                },
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                _ = sleep_until(next_timer.unwrap_or_else(Instant::now)), if next_timer.is_some() => {
                    self.on_timers_due();
                }
            }
            self.flush().await;
        }
        tracing::debug!("SIP endpoint stopped");
    }

    /// Arm the timers and send the messages the last event asked for.
    async fn flush(&mut self) {
        for (at, target) in self.outbox.timers.drain(..) {
            self.timers.schedule(at, target);
        }
        for outgoing in self.outbox.sends.drain(..) {
            bump(&self.counters.messages_out);
            let Outgoing {
                dest,
                transport,
                delivery,
                bytes,
            } = outgoing;
            match delivery {
                Delivery::Direct => self.transports.send(dest, transport, bytes).await,
                Delivery::Response { fallback } => {
                    self.transports
                        .send_response(dest, fallback, transport, bytes)
                        .await
                }
            }
        }
    }

    fn on_transport_event(&mut self, event: TransportEvent) {
        match event {
            TransportEvent::Message {
                bytes,
                source,
                transport,
            } => self.on_message(&bytes, source, transport),
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
            TransportEvent::TooLarge { head, source } => self.on_too_large(&head, source),
        }
    }

    /// A TCP message over the size limit, of which the header section was
    /// read: a request gets 513 (RFC 3261 §21.5.11) if it can be answered.
    fn on_too_large(&mut self, head: &[u8], source: SocketAddr) {
        bump(&self.counters.messages_in);
        let request = match parse(head, source, Transport::Tcp) {
            Ok(Message::Request(request)) | Err(ParseError::Invalid { request, .. }) => *request,
            _ => return bump(&self.counters.dropped_unparseable),
        };
        if request.method == Method::Ack {
            return bump(&self.counters.dropped_unparseable);
        }
        tracing::debug!(%source, "answering 513");
        self.reply(request, StatusCode::MESSAGE_TOO_LARGE, &[], Instant::now());
    }

    fn on_message(&mut self, bytes: &[u8], source: SocketAddr, transport: Transport) {
        bump(&self.counters.messages_in);
        let now = Instant::now();
        match parse(bytes, source, transport) {
            Ok(Message::Request(request)) => self.on_request(*request, now),
            Ok(Message::Response(response)) => self.on_response(&response, now),
            Err(ParseError::Invalid { reason, request }) => {
                if request.method == Method::Ack {
                    bump(&self.counters.dropped_unparseable);
                    return;
                }
                tracing::debug!(%source, %reason, "answering 400");
                bump(&self.counters.answered_bad_request);
                let host = self.transports.advertised_addr(source).ip().to_string();
                self.servers
                    .reply_bad_request(*request, &reason, &host, now, &mut self.outbox);
            }
            Err(error) => {
                tracing::debug!(%source, %error, "dropping SIP message");
                bump(&self.counters.dropped_unparseable);
            }
        }
    }

    fn on_request(&mut self, request: Request, now: Instant) {
        let key = ServerKey::for_request(&request);
        match self
            .servers
            .on_known(&key, &request.method, now, &mut self.outbox)
        {
            Some(Known::Retransmission) => return bump(&self.counters.retransmissions_absorbed),
            Some(Known::AckOfFailure) => return,
            Some(Known::AckOfSuccess) => return self.on_ack(&request),
            None => {}
        }
        match request.method {
            Method::Ack => return self.on_ack(&request),
            Method::Cancel => return self.servers.on_cancel(request, now, &mut self.outbox),
            _ => {}
        }
        if let Some(refusal) = screen(&request) {
            let (status, headers) = (refusal.status, refusal.headers);
            return self.reply(request, status, &headers, now);
        }
        if request.to_tag().is_some() {
            return self.on_in_dialog(request, now);
        }
        match request.method {
            Method::Invite if self.draining => {
                self.reply(request, StatusCode::SERVICE_UNAVAILABLE, &[], now)
            }
            Method::Invite => self.on_new_invite(request, now),
            // RFC 3261 §15.1.2: a BYE that matches no dialog gets 481.
            Method::Bye => self.reply(
                request,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                &[],
                now,
            ),
            Method::Options => {
                let server = self.open_non_invite(request, None);
                self.hand_up(Incoming::Options, server);
            }
            _ => {
                let server = self.open_non_invite(request, None);
                self.hand_up(Incoming::Request, server);
            }
        }
    }

    /// Answer on the endpoint's own account.
    fn reply(
        &mut self,
        request: Request,
        status: StatusCode,
        headers: &[(String, String)],
        now: Instant,
    ) {
        self.servers
            .reply(request, status, headers, now, &mut self.outbox);
    }

    /// An ACK outside a server transaction: the ACK for a 2xx (§13.3.1.4).
    fn on_ack(&mut self, request: &Request) {
        if self.dialogs.on_ack(request) == Ack::Repeated {
            bump(&self.counters.retransmissions_absorbed);
        }
    }

    fn on_in_dialog(&mut self, request: Request, now: Instant) {
        let key = DialogKey {
            call_id: request.call_id.clone(),
            local_tag: request.to_tag().unwrap_or_default().to_owned(),
        };
        let refusal = match self.dialogs.check_request(&key, &request) {
            InDialog::Unknown => Some(StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST),
            // RFC 3261 §12.2.2: a CSeq lower than the peer's last is out
            // of order.
            InDialog::OutOfOrder => Some(StatusCode::SERVER_INTERNAL_ERROR),
            InDialog::EndedBeforeAck => Some(StatusCode::OK),
            InDialog::InOrder => None,
        };
        if let Some(status) = refusal {
            return self.reply(request, status, &[], now);
        }
        let event = match request.method {
            Method::Invite => {
                self.dialogs.refresh_target(&key, &request);
                self.open_invite(request, key.local_tag.clone(), now)
                    .map(|server| DialogEvent::ReInvite(ReInvite { server }))
            }
            Method::Bye => {
                // RFC 3261 §15.1.2: the BYE ends the dialog and gets 200
                // whatever the TU makes of it, so the endpoint answers at
                // once instead of waiting for the call's task.
                self.reply(request, StatusCode::OK, &[], now);
                Some(DialogEvent::Bye)
            }
            Method::Info => self
                .open_non_invite(request, Some(&key))
                .map(DialogEvent::Info),
            _ => self
                .open_non_invite(request, Some(&key))
                .map(DialogEvent::Other),
        };
        let Some(event) = event else { return };
        let is_bye = matches!(event, DialogEvent::Bye);
        self.dialogs.deliver(&key, event);
        if is_bye {
            // RFC 3261 §15.1.2: the dialog ends with the BYE.
            self.dialogs.remove(&key);
        }
    }

    fn on_new_invite(&mut self, request: Request, now: Instant) {
        let Some(server) = self.open_invite(request, new_tag(), now) else {
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
                let status = StatusCode::SERVICE_UNAVAILABLE;
                self.servers
                    .respond(&key, status, &[], None, now, &mut self.outbox);
            }
        }
    }

    /// A server INVITE transaction (100 Trying sent) and its TU handle.
    fn open_invite(
        &mut self,
        request: Request,
        local_tag: String,
        now: Instant,
    ) -> Option<InviteServer> {
        let commands = self.commands.upgrade()?;
        let (tx, cancel) = self
            .servers
            .open_invite(&request, &local_tag, now, &mut self.outbox);
        Some(InviteServer {
            request,
            tx,
            local_tag,
            commands,
            cancel: Some(cancel),
            done: false,
        })
    }

    /// A server non-INVITE transaction and its TU handle.
    fn open_non_invite(
        &mut self,
        request: Request,
        dialog: Option<&DialogKey>,
    ) -> Option<NonInviteServer> {
        let commands = self.commands.upgrade()?;
        let local_tag = dialog.map(|d| d.local_tag.clone()).unwrap_or_else(new_tag);
        let tx = self.servers.open_non_invite(&request, local_tag);
        Some(NonInviteServer {
            request,
            tx,
            commands,
            done: false,
        })
    }

    /// Hand an out-of-dialog request to the TU.
    fn hand_up(&mut self, wrap: fn(NonInviteServer) -> Incoming, server: Option<NonInviteServer>) {
        let Some(server) = server else { return };
        if let Err(error) = self.incoming.try_send(wrap(server)) {
            // The TU is overloaded or gone; the handle's drop answers 500.
            tracing::warn!(%error, "incoming queue unavailable");
        }
    }

    fn on_response(&mut self, response: &Response, now: Instant) {
        let Some(branch) = response.branch.clone() else {
            bump(&self.counters.dropped_unparseable);
            return;
        };
        let key = ClientKey {
            branch,
            method: response.cseq_method.clone(),
            transport: response.transport,
        };
        match self
            .clients
            .on_response(&key, response, now, &mut self.outbox)
        {
            Matched::Absorbed => bump(&self.counters.retransmissions_absorbed),
            Matched::Success(success) => {
                let bye = self.dialogs.on_invite_2xx(
                    *success,
                    response,
                    &self.transports,
                    &self.user_agent,
                    &mut self.outbox,
                );
                if let Some((bye, peer)) = bye {
                    self.clients
                        .start_non_invite(&bye, peer, None, now, &mut self.outbox);
                }
            }
            Matched::Nothing | Matched::Handled => {}
        }
    }

    fn on_timers_due(&mut self) {
        let now = Instant::now();
        while let Some(target) = self.timers.pop_due(now) {
            self.on_timer(target, now);
        }
    }

    fn on_timer(&mut self, target: TimerTarget, now: Instant) {
        let out = &mut self.outbox;
        match target {
            TimerTarget::Server(key, timer) => self.servers.on_timer(&key, timer, now, out),
            TimerTarget::Client(key, timer) => self.clients.on_timer(&key, timer, now, out),
            TimerTarget::Retransmit2xx(key, cseq) => {
                self.dialogs.retransmit_2xx(&key, cseq, now, out)
            }
            TimerTarget::CancelTimeout(key) => self.clients.on_cancel_timeout(&key),
            TimerTarget::AckTimeout(key, cseq) => {
                // RFC 3261 §13.3.1.4: no ACK, so the session ends with BYE.
                if self.dialogs.ack_timeout(&key, cseq) {
                    self.send_bye(key, None, now);
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Respond {
                tx,
                status,
                headers,
                body,
            } => {
                let body = body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
                self.servers
                    .respond(&tx, status, &headers, body, now, &mut self.outbox);
            }
            Command::Answer {
                tx,
                sdp,
                events,
                reply,
            } => self.answer(tx, sdp, events, reply, now),
            Command::Bye { dialog, reply } => self.send_bye(dialog, Some(reply), now),
            Command::DialogGone(key) => {
                self.dialogs.remove(&key);
            }
            Command::Shutdown => self.draining = true,
            Command::Invite { request, events } => self.send_invite(&request, events, now),
            Command::Cancel { tx } => self.clients.cancel(&tx, now, &mut self.outbox),
            Command::Ack { dialog, cseq } => self.dialogs.ack(
                &dialog,
                cseq,
                &self.transports,
                &self.user_agent,
                &mut self.outbox,
            ),
            Command::ReInvite { dialog, sdp, reply } => self.send_reinvite(dialog, sdp, reply, now),
            Command::Request { request, reply } => {
                let local_addr = self.transports.advertised_addr(request.target.addr);
                let built = request.build(local_addr, &self.user_agent);
                self.clients.start_non_invite(
                    &built,
                    request.peer(),
                    Some(reply),
                    now,
                    &mut self.outbox,
                );
            }
        }
    }

    /// Send the 2xx and wait for the ACK; a new dialog is registered
    /// first so the ACK (an in-dialog request) finds it.
    fn answer(
        &mut self,
        tx: ServerKey,
        sdp: Vec<u8>,
        events: Option<DialogEvents>,
        reply: AckReply,
        now: Instant,
    ) {
        let Some((request, local_tag)) = self.servers.proceeding_invite(&tx) else {
            let _ = reply.send(Err(SipError::Cancelled));
            return;
        };
        let key = DialogKey {
            call_id: request.call_id.clone(),
            local_tag: local_tag.to_owned(),
        };
        if let Some(events) = events {
            self.dialogs
                .insert(DialogState::from_invite(request, &key.local_tag, events));
        }
        if !self.dialogs.contains(&key) {
            let _ = reply.send(Err(SipError::DialogEnded {
                call_id: key.call_id,
            }));
            return;
        }
        let (cseq, dest) = (request.cseq, response_destination(request));
        let local_addr = self.transports.advertised_addr(request.source);
        let headers = [
            ("Contact".to_owned(), contact(local_addr, request.transport)),
            ("Allow".to_owned(), ALLOW.to_owned()),
        ];
        let body = Some(("application/sdp", sdp.as_slice()));
        let sent = self
            .servers
            .respond(&tx, StatusCode::OK, &headers, body, now, &mut self.outbox);
        let Some(response) = sent else {
            let _ = reply.send(Err(SipError::Cancelled));
            return;
        };
        let sent = Sent2xx {
            cseq,
            response,
            dest,
            reply,
        };
        self.dialogs.await_ack(&key, sent, now, &mut self.outbox);
    }

    /// BYE in a client non-INVITE transaction (RFC 3261 §15.1.1); the
    /// dialog ends at once.
    fn send_bye(&mut self, key: DialogKey, reply: Option<StatusReply>, now: Instant) {
        let routed = self.dialogs.bye(&key, &self.transports, &self.user_agent);
        let Some((request, peer)) = routed else {
            if let Some(reply) = reply {
                let _ = reply.send(Err(SipError::DialogEnded {
                    call_id: key.call_id,
                }));
            }
            return;
        };
        self.clients
            .start_non_invite(&request, peer, reply, now, &mut self.outbox);
    }

    /// Place a call: the INVITE in a client transaction of its own.
    fn send_invite(
        &mut self,
        request: &NewRequest,
        events: mpsc::UnboundedSender<InviteEvent>,
        now: Instant,
    ) {
        let local_addr = self.transports.advertised_addr(request.target.addr);
        let built = request.build(local_addr, &self.user_agent);
        let waiter = InviteWaiter::Call(events);
        self.clients.start_invite(
            built,
            request.dialog(),
            request.peer(),
            waiter,
            now,
            &mut self.outbox,
        );
    }

    /// A re-INVITE in a dialog we placed, with our new offer (§14.1).
    fn send_reinvite(&mut self, key: DialogKey, sdp: Vec<u8>, reply: ReInviteReply, now: Instant) {
        let routed = self
            .dialogs
            .reinvite(&key, sdp, &self.transports, &self.user_agent);
        let Some((request, peer)) = routed else {
            let _ = reply.send(Err(SipError::DialogEnded {
                call_id: key.call_id,
            }));
            return;
        };
        let waiter = InviteWaiter::ReInvite(Some(reply));
        self.clients
            .start_invite(request, key, peer, waiter, now, &mut self.outbox);
    }
}
