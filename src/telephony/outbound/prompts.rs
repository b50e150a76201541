//! The survey's prompts: pieces recorded once (`<prompts_dir>/survey/`)
//! and joined per work order into "您好，这里是物业客服中心，关于您 X月X日
//! 报修的问题已处理完毕，满意请按1，基本满意请按2，不满意请按3". Each file
//! may be replaced by a recording (8 kHz mono 16-bit WAV).

use std::path::Path;

use anyhow::Context;
use chrono::{Datelike, NaiveDate};

use crate::desk::TicketKind;
use crate::media::Prompt;

/// The folder of the survey's pieces inside the prompts folder.
pub const SURVEY_DIR: &str = "survey";

/// The survey's pieces.
#[derive(Debug, Clone)]
pub struct SurveyPrompts {
    /// 您好，这里是物业客服中心，关于您
    intro: Prompt,
    /// 一月 … 十二月
    months: Vec<Prompt>,
    /// 一日 … 三十一日
    days: Vec<Prompt>,
    /// 报修的问题已处理完毕 … by kind.
    kinds: Vec<(TicketKind, Prompt)>,
    /// 满意请按1，基本满意请按2，不满意请按3
    question: Prompt,
    /// 感谢您的评价，再见
    pub thanks: Prompt,
}

impl SurveyPrompts {
    /// Reads every piece from `dir` (the survey folder).
    pub fn load(dir: &Path) -> anyhow::Result<SurveyPrompts> {
        let load = |name: &str| -> anyhow::Result<Prompt> {
            let path = dir.join(format!("{name}.wav"));
            Prompt::load_wav(&path).with_context(|| format!("survey prompt {}", path.display()))
        };
        Ok(SurveyPrompts {
            intro: load("intro")?,
            months: (1..=12)
                .map(|m| load(&format!("month_{m}")))
                .collect::<anyhow::Result<_>>()?,
            days: (1..=31)
                .map(|d| load(&format!("day_{d}")))
                .collect::<anyhow::Result<_>>()?,
            kinds: TicketKind::ALL
                .iter()
                .copied()
                .map(|kind| Ok((kind, load(&format!("kind_{}", kind.code()))?)))
                .collect::<anyhow::Result<_>>()?,
            question: load("question")?,
            thanks: load("thanks")?,
        })
    }

    /// The question about one work order: reported on `date`, of `kind`.
    pub fn question_for(&self, kind: TicketKind, date: NaiveDate) -> Prompt {
        let month = &self.months[date.month0() as usize];
        let day = &self.days[date.day0() as usize];
        let kind = self
            .kinds
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, p)| p)
            .unwrap_or(&self.kinds[0].1);
        let parts = [&self.intro, month, day, kind, &self.question];
        let mut samples = Vec::with_capacity(parts.iter().map(|p| p.samples().len()).sum());
        for part in parts {
            samples.extend_from_slice(part.samples());
        }
        Prompt::from_samples("survey", samples)
    }

    /// The question alone (asked again after no or a wrong key).
    pub fn question(&self) -> &Prompt {
        &self.question
    }
}
