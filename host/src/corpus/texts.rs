//! Voices and texts of the two splits. The lists of `tune` and `heldout` are
//! disjoint (no voice string and no text is shared; a unit test checks it),
//! so a detector tuned on one split is reported on voices and words it has
//! never seen.

use super::Split;

/// The espeak-ng voices (language + optional variant) of a split.
pub fn voices(split: Split) -> &'static [&'static str] {
    match split {
        Split::Tune => &[
            "en-us",
            "en-gb",
            "en-us+f3",
            "en-gb+m3",
            "en+f2",
            "en-gb-scotland+f4",
            "en-us+m7",
        ],
        Split::Heldout => &[
            "en-gb-x-rp",
            "en-029",
            "en+m3",
            "en-us+f5",
            "en-us-nyc",
            "en-029+f2",
            "en-gb-x-rp+f1",
            "en-gb-x-gbclan+m5",
        ],
    }
}

/// The texts of one category in one split, with stable ids.
pub struct TextSet {
    /// Id prefix, e.g. "hs" (human short).
    pub prefix: &'static str,
    /// The texts.
    pub texts: &'static [&'static str],
}

/// Which kind of utterance a text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A short live greeting.
    HumanShort,
    /// A long, receptionist-style live greeting (2.5-4.5 s).
    HumanLong,
    /// The "Hello?" a live person says again into silence.
    SecondHello,
    /// A short machine greeting.
    MachineShort,
    /// A long machine greeting (5-20 s).
    MachineLong,
    /// A carrier intercept announcement (after SIT tones).
    Announcement,
    /// Background talk mixed into babble noise.
    Babble,
}

/// The texts of `category` in `split`.
pub fn texts(split: Split, category: Category) -> TextSet {
    use Category::*;
    let (prefix, texts): (&str, &[&str]) = match (split, category) {
        (Split::Tune, HumanShort) => (
            "hs",
            &[
                "Hello?",
                "Yes?",
                "Hi, this is Dana.",
                "Good afternoon, Miller residence.",
                "Hello, Tom speaking.",
                "Yeah, hello?",
                "Hi there.",
                "Speaking.",
                "Hello, who is this?",
                "Morning!",
            ],
        ),
        (Split::Heldout, HumanShort) => (
            "hs",
            &[
                "Hallo?",
                "Yep?",
                "Hey, it's Priya.",
                "Good evening, the Carter house.",
                "This is Mark.",
                "Uh, hello?",
                "Hiya.",
                "Go ahead.",
                "Hello, can I help you?",
                "Evening.",
            ],
        ),
        (Split::Tune, HumanLong) => (
            "hl",
            &[
                "Thanks for calling, you're through to the front desk, Raj speaking.",
                "Good morning, Parkside Dental, this is Emma, how can I help?",
                "Hello, accounts department, Steve speaking, what can I do for you?",
                "Hi, you've reached the service desk, my name is Lucy.",
            ],
        ),
        (Split::Heldout, HumanLong) => (
            "hl",
            &[
                "Good afternoon, Riverside Motors, Jamal speaking, how may I help you?",
                "Hello, thank you for calling the library, this is Grace.",
                "Reception, you're speaking with Oliver, who would you like?",
                "Hi, sales office, Nina here, what can I help you with today?",
            ],
        ),
        (Split::Tune, SecondHello) => ("h2", &["Hello?", "Hello? Who's calling?"]),
        (Split::Heldout, SecondHello) => ("h2", &["Hallo? Anyone there?", "Hello-o? Can you hear me?"]),
        (Split::Tune, MachineShort) => (
            "ms",
            &[
                "Please leave a message.",
                "Leave a message after the tone.",
                "Hi, it's Sam, leave a message.",
                "Not here, leave a message.",
                "Hey, it's Chris. Leave a message.",
            ],
        ),
        (Split::Heldout, MachineShort) => (
            "ms",
            &[
                "Leave your message at the beep.",
                "Talk after the tone.",
                "You've got Ben. Message please.",
                "Nobody home, record your message.",
                "Yo, it's Danny. You know what to do.",
            ],
        ),
        (Split::Tune, MachineLong) => (
            "ml",
            &[
                "Hi, you've reached Jenny and Mike. We can't come to the phone right now. Please leave your name, number and a short message, and we'll call you back as soon as we can.",
                "Thank you for calling Greenfield Plumbing. Our office is now closed. Our regular hours are Monday to Friday, eight in the morning to five in the evening. Please leave a message after the tone, or call back during business hours.",
                "The person you are calling is not available. Please leave a message after the tone.",
                "Hello, this is Doctor Alvarez. I am out of the office until Monday. If this is an emergency, please hang up and dial the clinic's main number. Otherwise, leave a message and I will return your call.",
                "You have reached the voicemail of Karen Smith. I'm either on the other line or away from my desk. Please leave a detailed message and I'll get back to you.",
                "Your call has been forwarded to an automatic voice message system. The number you have called is not available. At the tone, please record your message. When you have finished recording, you may hang up.",
                "Hi, this is the Johnsons. Sorry we missed you. Leave a message and have a great day.",
            ],
        ),
        (Split::Heldout, MachineLong) => (
            "ml",
            &[
                "Hello, you have reached Anna and David. We are not able to answer right now. Leave us your details after the beep and we will ring you back.",
                "Thank you for calling Northside Veterinary Clinic. We are currently closed. Our opening hours are nine to six on weekdays and nine to one on Saturdays. For urgent care, please contact the emergency animal hospital. Otherwise leave a message after the tone.",
                "The subscriber you have dialed cannot take your call. Please record a message after the tone.",
                "This is Professor Lindqvist. I'm away at a conference this week with limited access to voicemail. Please send me an email instead, or leave a brief message and I will respond when I return.",
                "You've reached the mailbox of Harold Evans in purchasing. I'm away from my desk at the moment. Leave your name, company and telephone number and I'll call you back today.",
                "The mobile customer you are trying to reach is unavailable. Please leave your message after the tone. To send a numeric page, press five.",
                "Hi, you've got the Garcias. We're probably out in the garden. Leave a message and we'll call back later.",
            ],
        ),
        (Split::Tune, Announcement) => (
            "an",
            &[
                "The number you have dialed is not in service. Please check the number and dial again.",
                "We're sorry, your call cannot be completed as dialed.",
            ],
        ),
        (Split::Heldout, Announcement) => (
            "an",
            &[
                "The number you have reached has been disconnected or is no longer in service.",
                "All circuits are busy now. Please try your call again later.",
            ],
        ),
        (Split::Tune, Babble) => (
            "bb",
            &[
                "I told him we would be there around six, but traffic was terrible.",
                "Can you pass me the report from last week, the one with the charts?",
                "She said the meeting moved to Thursday afternoon.",
                "We need more paper for the printer on the second floor.",
            ],
        ),
        (Split::Heldout, Babble) => (
            "bb",
            &[
                "The kids are at their grandmother's until Sunday evening.",
                "Did anyone order lunch for the team today or not?",
                "I think the game starts at seven thirty on channel four.",
                "Put the boxes by the door and I'll move them later.",
            ],
        ),
    };
    TextSet { prefix, texts }
}

/// The id of text `index` of `set` in `split`, e.g. "heldout/ml-03".
pub fn text_id(split: Split, set: &TextSet, index: usize) -> String {
    format!("{}/{}-{:02}", split.as_str(), set.prefix, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Category; 7] = [
        Category::HumanShort,
        Category::HumanLong,
        Category::SecondHello,
        Category::MachineShort,
        Category::MachineLong,
        Category::Announcement,
        Category::Babble,
    ];

    #[test]
    fn splits_share_no_voice_and_no_text() {
        for v in voices(Split::Tune) {
            assert!(
                !voices(Split::Heldout).contains(v),
                "voice {v} in both splits"
            );
        }
        let all = |s: Split| -> Vec<String> {
            ALL.iter()
                .flat_map(|&c| texts(s, c).texts.iter().map(|t| t.to_lowercase()))
                .collect()
        };
        let held = all(Split::Heldout);
        for t in all(Split::Tune) {
            assert!(!held.contains(&t), "text {t:?} in both splits");
        }
    }
}
