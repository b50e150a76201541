//! The IVR flow of an inbound call, as a sans-IO state machine: greeting →
//! menu (a digit pre-classifies the call; no or a wrong digit repeats the
//! menu, then the call is taken as "other") → for the choices that go to a
//! person, the queue for an operator (the call task's; the IVR waits and
//! takes the voice message when nobody can answer) → voice-message prompt
//! (the end key skips it) → beep → the caller speaks until the end key, the
//! time limit or hang-up → thanks → hang up.
//!
//! It takes events (a prompt finished, a digit, a timer fired) and returns
//! actions (play this prompt, start a timer, store the choice, mark the
//! message, hang up); the call task performs them. No sockets, no clock.

use std::time::Duration;

use super::config::{IvrConfig, MenuChoice, VoicemailConfig};

/// The prompts the flow plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptId {
    Greeting,
    Menu,
    Invalid,
    Voicemail,
    Beep,
    Thanks,
}

/// What the caller chose in the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// A valid menu digit.
    Digit(char, MenuChoice),
    /// No or only wrong digits: the call is taken as "other information".
    Other,
}

/// Something that happened to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvrEvent {
    /// The prompt last asked for has been played to its end.
    PromptFinished,
    /// The caller pressed a key (RFC 4733 or SIP INFO).
    Digit(char),
    /// The timer with this generation fired.
    Timer(u32),
    /// The queue gave the call up (nobody could answer, or it waited too
    /// long): the caller is to leave a voice message.
    NoOperator,
}

/// What the call task is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvrAction {
    /// Play this prompt, replacing whatever plays.
    Play(PromptId),
    /// Arm the call's single timer; a later `StartTimer` replaces it, and only
    /// `IvrEvent::Timer(generation)` with the newest generation counts.
    StartTimer { after: Duration, generation: u32 },
    /// Store the caller's menu choice.
    MenuChosen(Choice),
    /// Put the caller in the queue for an operator; the IVR waits until
    /// [`IvrEvent::NoOperator`] (or the call ends).
    Queue,
    /// The voice message starts now.
    VoicemailStarted,
    /// The voice message ended now.
    VoicemailEnded,
    /// End the call from our side (BYE).
    HangUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    /// The menu is playing (attempt counts from 1).
    Menu {
        attempt: u32,
    },
    /// The "wrong key" prompt is playing before the menu is offered again.
    Invalid {
        attempt: u32,
    },
    /// The menu has been played; waiting for a digit.
    AwaitDigit {
        attempt: u32,
    },
    /// In the queue for an operator, or talking to one.
    Queued,
    VoicemailPrompt,
    Beep,
    Recording,
    Thanks,
    Done,
}

/// The flow of one call.
#[derive(Debug)]
pub struct Ivr {
    state: State,
    generation: u32,
    menu: IvrConfig,
    voicemail: VoicemailConfig,
    /// The choices that put the caller in the queue.
    queued: Vec<MenuChoice>,
}

impl Ivr {
    /// A new flow; `start` gives its first actions.
    pub fn new(menu: IvrConfig, voicemail: VoicemailConfig) -> Ivr {
        Ivr {
            state: State::Greeting,
            generation: 0,
            menu,
            voicemail,
            queued: Vec::new(),
        }
    }

    /// The same flow, where these choices put the caller in the queue for
    /// an operator instead of the voice message.
    pub fn with_queue(mut self, choices: Vec<MenuChoice>) -> Ivr {
        self.queued = choices;
        self
    }

    /// The actions at answer time.
    pub fn start(&mut self) -> Vec<IvrAction> {
        self.state = State::Greeting;
        vec![IvrAction::Play(PromptId::Greeting)]
    }

    /// Whether the flow has nothing more to do.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether a voice message is being recorded (so a hang-up ends it).
    pub fn is_recording(&self) -> bool {
        self.state == State::Recording
    }

    /// The caller hung up: actions to close what is open.
    pub fn hung_up(&mut self) -> Vec<IvrAction> {
        let was_recording = self.is_recording();
        self.state = State::Done;
        if was_recording {
            vec![IvrAction::VoicemailEnded]
        } else {
            Vec::new()
        }
    }

    /// Feeds one event and returns what to do.
    pub fn handle(&mut self, event: IvrEvent) -> Vec<IvrAction> {
        match (self.state, event) {
            (State::Greeting, IvrEvent::PromptFinished) => {
                self.state = State::Menu { attempt: 1 };
                vec![IvrAction::Play(PromptId::Menu)]
            }
            (
                State::Greeting
                | State::Menu { .. }
                | State::Invalid { .. }
                | State::AwaitDigit { .. },
                IvrEvent::Digit(digit),
            ) => self.menu_digit(digit),
            (State::Menu { attempt }, IvrEvent::PromptFinished) => {
                self.state = State::AwaitDigit { attempt };
                vec![self.start_timer(self.menu.digit_timeout)]
            }
            (State::Invalid { attempt }, IvrEvent::PromptFinished) => {
                self.state = State::Menu { attempt };
                vec![IvrAction::Play(PromptId::Menu)]
            }
            (State::AwaitDigit { attempt }, IvrEvent::Timer(generation))
                if generation == self.generation =>
            {
                self.next_attempt(attempt, false)
            }
            (State::Queued, IvrEvent::NoOperator) => {
                self.state = State::VoicemailPrompt;
                vec![IvrAction::Play(PromptId::Voicemail)]
            }
            (State::VoicemailPrompt, IvrEvent::PromptFinished) => self.beep(),
            // A caller who knows the prompt skips it with the end key; the
            // beep replaces the prompt at once.
            (State::VoicemailPrompt, IvrEvent::Digit(digit))
                if digit == self.voicemail.end_digit =>
            {
                self.beep()
            }
            (State::Beep, IvrEvent::PromptFinished) => {
                self.state = State::Recording;
                vec![
                    IvrAction::VoicemailStarted,
                    self.start_timer(self.voicemail.max_length),
                ]
            }
            (State::Recording, IvrEvent::Digit(digit)) if digit == self.voicemail.end_digit => {
                self.end_message()
            }
            (State::Recording, IvrEvent::Timer(generation)) if generation == self.generation => {
                self.end_message()
            }
            (State::Thanks, IvrEvent::PromptFinished) => {
                self.state = State::Done;
                vec![IvrAction::HangUp]
            }
            // Anything else (another digit during the voice-message prompt or
            // the beep, a stale timer, a prompt end we no longer wait for)
            // changes nothing.
            _ => Vec::new(),
        }
    }

    fn menu_digit(&mut self, digit: char) -> Vec<IvrAction> {
        let attempt = match self.state {
            State::Menu { attempt }
            | State::Invalid { attempt }
            | State::AwaitDigit { attempt } => attempt,
            _ => 1,
        };
        match self.menu.choice_for(digit) {
            Some(choice) => self.chosen(Choice::Digit(digit, choice)),
            None => self.next_attempt(attempt, true),
        }
    }

    /// No or a wrong digit: offer the menu again, or give up and take the
    /// call as "other".
    fn next_attempt(&mut self, attempt: u32, wrong_key: bool) -> Vec<IvrAction> {
        if attempt >= self.menu.menu_attempts {
            return self.chosen(Choice::Other);
        }
        self.generation = self.generation.wrapping_add(1);
        if wrong_key {
            self.state = State::Invalid {
                attempt: attempt + 1,
            };
            vec![IvrAction::Play(PromptId::Invalid)]
        } else {
            self.state = State::Menu {
                attempt: attempt + 1,
            };
            vec![IvrAction::Play(PromptId::Menu)]
        }
    }

    fn chosen(&mut self, choice: Choice) -> Vec<IvrAction> {
        self.generation = self.generation.wrapping_add(1);
        if matches!(choice, Choice::Digit(_, menu) if self.queued.contains(&menu)) {
            self.state = State::Queued;
            return vec![IvrAction::MenuChosen(choice), IvrAction::Queue];
        }
        self.state = State::VoicemailPrompt;
        vec![
            IvrAction::MenuChosen(choice),
            IvrAction::Play(PromptId::Voicemail),
        ]
    }

    fn beep(&mut self) -> Vec<IvrAction> {
        self.state = State::Beep;
        vec![IvrAction::Play(PromptId::Beep)]
    }

    fn end_message(&mut self) -> Vec<IvrAction> {
        self.generation = self.generation.wrapping_add(1);
        self.state = State::Thanks;
        vec![IvrAction::VoicemailEnded, IvrAction::Play(PromptId::Thanks)]
    }

    fn start_timer(&mut self, after: Duration) -> IvrAction {
        self.generation = self.generation.wrapping_add(1);
        IvrAction::StartTimer {
            after,
            generation: self.generation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivr() -> Ivr {
        Ivr::new(IvrConfig::default(), VoicemailConfig::default())
    }

    fn timer_of(actions: &[IvrAction]) -> u32 {
        actions
            .iter()
            .find_map(|a| match a {
                IvrAction::StartTimer { generation, .. } => Some(*generation),
                _ => None,
            })
            .expect("a timer was started")
    }

    /// Plays the flow up to the recording of the message.
    fn to_recording(ivr: &mut Ivr, digit: char) -> Vec<IvrAction> {
        ivr.start();
        ivr.handle(IvrEvent::PromptFinished);
        ivr.handle(IvrEvent::Digit(digit));
        ivr.handle(IvrEvent::PromptFinished);
        ivr.handle(IvrEvent::PromptFinished)
    }

    #[test]
    fn a_valid_digit_during_the_menu_leads_to_the_voice_message() {
        let mut ivr = ivr();
        assert_eq!(ivr.start(), [IvrAction::Play(PromptId::Greeting)]);
        assert_eq!(
            ivr.handle(IvrEvent::PromptFinished),
            [IvrAction::Play(PromptId::Menu)]
        );
        assert_eq!(
            ivr.handle(IvrEvent::Digit('2')),
            [
                IvrAction::MenuChosen(Choice::Digit('2', MenuChoice::Complaint)),
                IvrAction::Play(PromptId::Voicemail)
            ]
        );
        assert_eq!(
            ivr.handle(IvrEvent::PromptFinished),
            [IvrAction::Play(PromptId::Beep)]
        );
        let actions = ivr.handle(IvrEvent::PromptFinished);
        assert_eq!(actions[0], IvrAction::VoicemailStarted);
        assert!(matches!(
            actions[1],
            IvrAction::StartTimer { after, .. } if after == Duration::from_secs(120)
        ));
        assert!(ivr.is_recording());
    }

    #[test]
    fn a_queued_choice_waits_for_an_operator_and_falls_back_to_the_voice_message() {
        let mut ivr = ivr().with_queue(vec![MenuChoice::Operator, MenuChoice::Complaint]);
        ivr.start();
        ivr.handle(IvrEvent::PromptFinished);
        assert_eq!(
            ivr.handle(IvrEvent::Digit('0')),
            [
                IvrAction::MenuChosen(Choice::Digit('0', MenuChoice::Operator)),
                IvrAction::Queue
            ]
        );
        // While queued, digits, prompt ends and old timers change nothing.
        for event in [
            IvrEvent::Digit('1'),
            IvrEvent::Digit('#'),
            IvrEvent::PromptFinished,
            IvrEvent::Timer(0),
        ] {
            assert_eq!(ivr.handle(event), []);
        }
        assert_eq!(
            ivr.handle(IvrEvent::NoOperator),
            [IvrAction::Play(PromptId::Voicemail)]
        );
        assert_eq!(
            ivr.handle(IvrEvent::PromptFinished),
            [IvrAction::Play(PromptId::Beep)]
        );
        // A choice that does not queue goes to the voice message at once,
        // and NoOperator outside the queue changes nothing.
        let mut ivr = ivr_queued_operator_only();
        ivr.start();
        let actions = ivr.handle(IvrEvent::Digit('2'));
        assert_eq!(actions[1], IvrAction::Play(PromptId::Voicemail));
        assert_eq!(ivr.handle(IvrEvent::NoOperator), []);
    }

    fn ivr_queued_operator_only() -> Ivr {
        ivr().with_queue(vec![MenuChoice::Operator])
    }

    #[test]
    fn a_digit_during_the_greeting_interrupts_it() {
        let mut ivr = ivr();
        ivr.start();
        let actions = ivr.handle(IvrEvent::Digit('1'));
        assert_eq!(
            actions[0],
            IvrAction::MenuChosen(Choice::Digit('1', MenuChoice::Repair))
        );
    }

    #[test]
    fn the_end_key_ends_the_message_and_thanks_then_hangs_up() {
        let mut ivr = ivr();
        to_recording(&mut ivr, '4');
        assert_eq!(
            ivr.handle(IvrEvent::Digit('#')),
            [IvrAction::VoicemailEnded, IvrAction::Play(PromptId::Thanks)]
        );
        assert_eq!(ivr.handle(IvrEvent::PromptFinished), [IvrAction::HangUp]);
        assert!(ivr.is_done());
    }

    #[test]
    fn the_time_limit_ends_the_message() {
        let mut ivr = ivr();
        let actions = to_recording(&mut ivr, '3');
        let timer = timer_of(&actions);
        assert_eq!(
            ivr.handle(IvrEvent::Timer(timer))[0],
            IvrAction::VoicemailEnded
        );
    }

    #[test]
    fn other_digits_while_recording_are_part_of_the_message() {
        let mut ivr = ivr();
        to_recording(&mut ivr, '1');
        assert!(ivr.handle(IvrEvent::Digit('5')).is_empty());
        assert!(ivr.is_recording());
    }

    #[test]
    fn hanging_up_while_recording_ends_the_message() {
        let mut ivr = ivr();
        to_recording(&mut ivr, '1');
        assert_eq!(ivr.hung_up(), [IvrAction::VoicemailEnded]);
        assert!(ivr.is_done());
        let mut early = self::ivr();
        early.start();
        assert!(early.hung_up().is_empty());
    }

    #[test]
    fn no_digit_repeats_the_menu_once_then_takes_the_call_as_other() {
        let mut ivr = ivr();
        ivr.start();
        ivr.handle(IvrEvent::PromptFinished);
        let first = timer_of(&ivr.handle(IvrEvent::PromptFinished));
        assert_eq!(
            ivr.handle(IvrEvent::Timer(first)),
            [IvrAction::Play(PromptId::Menu)]
        );
        let second = timer_of(&ivr.handle(IvrEvent::PromptFinished));
        assert_eq!(
            ivr.handle(IvrEvent::Timer(second)),
            [
                IvrAction::MenuChosen(Choice::Other),
                IvrAction::Play(PromptId::Voicemail)
            ]
        );
    }

    #[test]
    fn a_wrong_digit_plays_the_invalid_prompt_and_the_menu_again() {
        let mut ivr = ivr();
        ivr.start();
        ivr.handle(IvrEvent::PromptFinished);
        assert_eq!(
            ivr.handle(IvrEvent::Digit('9')),
            [IvrAction::Play(PromptId::Invalid)]
        );
        assert_eq!(
            ivr.handle(IvrEvent::PromptFinished),
            [IvrAction::Play(PromptId::Menu)]
        );
        assert_eq!(
            ivr.handle(IvrEvent::Digit('7'))[0],
            IvrAction::MenuChosen(Choice::Other)
        );
    }

    #[test]
    fn a_stale_timer_is_ignored() {
        let mut ivr = ivr();
        ivr.start();
        ivr.handle(IvrEvent::PromptFinished);
        let first = timer_of(&ivr.handle(IvrEvent::PromptFinished));
        ivr.handle(IvrEvent::Timer(first));
        assert!(ivr.handle(IvrEvent::Timer(first)).is_empty());
    }

    #[test]
    fn other_digits_during_the_voice_message_prompt_are_ignored() {
        let mut ivr = ivr();
        ivr.start();
        ivr.handle(IvrEvent::Digit('1'));
        assert!(ivr.handle(IvrEvent::Digit('5')).is_empty());
        assert!(ivr.handle(IvrEvent::Digit('*')).is_empty());
        assert_eq!(
            ivr.handle(IvrEvent::PromptFinished),
            [IvrAction::Play(PromptId::Beep)]
        );
    }

    #[test]
    fn the_end_key_during_the_voice_message_prompt_skips_to_the_beep() {
        let mut ivr = ivr();
        ivr.start();
        ivr.handle(IvrEvent::Digit('2'));
        assert_eq!(
            ivr.handle(IvrEvent::Digit('#')),
            [IvrAction::Play(PromptId::Beep)]
        );
        // A second press during the beep changes nothing; the message
        // starts when the beep ends, as after a prompt played to its end.
        assert!(ivr.handle(IvrEvent::Digit('#')).is_empty());
        let actions = ivr.handle(IvrEvent::PromptFinished);
        assert_eq!(actions[0], IvrAction::VoicemailStarted);
        assert!(ivr.is_recording());
        assert_eq!(
            ivr.handle(IvrEvent::Digit('#')),
            [IvrAction::VoicemailEnded, IvrAction::Play(PromptId::Thanks)]
        );
    }

    #[test]
    fn a_configured_end_key_skips_the_prompt_and_hash_then_does_not() {
        let voicemail = VoicemailConfig {
            end_digit: '*',
            ..VoicemailConfig::default()
        };
        let mut ivr = Ivr::new(IvrConfig::default(), voicemail);
        ivr.start();
        ivr.handle(IvrEvent::Digit('3'));
        assert!(ivr.handle(IvrEvent::Digit('#')).is_empty());
        assert_eq!(
            ivr.handle(IvrEvent::Digit('*')),
            [IvrAction::Play(PromptId::Beep)]
        );
    }
}
