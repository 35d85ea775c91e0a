//! The mock's phrasebook: sentence templates it fills with the topic, titles and names.
//! Placeholders: `{t}` topic as written, `{T}` topic in title case, `{title}`, `{show}`,
//! `{a}` and `{b}` (speakers), `{point}`, `{summary}`, `{name}`.

/// An angle on a topic, used to invent outline segments or story scenes.
pub struct Aspect {
    pub title: &'static str,
    pub summary: &'static str,
    pub points: [&'static str; 3],
}

/// Podcast segments: the first is always an opening and the last a look ahead.
pub const PODCAST_ASPECTS: &[Aspect] = &[
    Aspect {
        title: "Where It All Began",
        summary: "How {t} first took shape, and the small accidents that made it what it is today.",
        points: [
            "The earliest records of {t} are older than most people expect.",
            "A handful of curious people pushed {t} forward long before it was popular.",
            "Several lucky accidents shaped {t} as much as careful planning did.",
        ],
    },
    Aspect {
        title: "How {T} Actually Works",
        summary: "A plain-language tour of the mechanics behind {t}, without the jargon.",
        points: [
            "At its core, {t} follows a few simple rules.",
            "Most of the complexity comes from how those rules interact.",
            "A kitchen-table analogy makes {t} surprisingly easy to picture.",
        ],
    },
    Aspect {
        title: "Everyday Encounters",
        summary: "The places where {t} quietly shows up in an ordinary day.",
        points: [
            "You probably ran into {t} before breakfast today.",
            "Small daily habits are shaped by {t} in ways we rarely notice.",
            "Once you spot {t}, you start seeing it everywhere.",
        ],
    },
    Aspect {
        title: "Myths About {T}",
        summary: "The popular beliefs about {t} that do not survive a closer look.",
        points: [
            "The most repeated claim about {t} is only half true.",
            "Some myths about {t} began as honest misunderstandings.",
            "Checking the original sources clears up most of the confusion.",
        ],
    },
    Aspect {
        title: "The People Behind It",
        summary: "The researchers, makers and enthusiasts who keep {t} moving.",
        points: [
            "Progress in {t} often came from outsiders.",
            "Collaboration mattered more than any single genius.",
            "Today a global community keeps adding to what we know about {t}.",
        ],
    },
    Aspect {
        title: "By the Numbers",
        summary: "The statistics that put {t} into perspective.",
        points: [
            "One number about {t} sounds unbelievable until you see where it comes from.",
            "Scale changes everything when we talk about {t}.",
            "The trend lines for {t} point in a surprising direction.",
        ],
    },
    Aspect {
        title: "What Comes Next for {T}",
        summary: "Where {t} may be heading, and what listeners can watch for.",
        points: [
            "The next decade could change {t} more than the last fifty years.",
            "Open questions about {t} are where the excitement is.",
            "Listeners can follow {t} with a few simple habits.",
        ],
    },
];

/// Story scenes: the first sets the world up and the last resolves it.
pub const STORY_BEATS: &[Aspect] = &[
    Aspect {
        title: "The Ordinary World",
        summary: "Life goes on as usual, though {t} hums quietly in the background.",
        points: [
            "We meet the hero in a familiar routine.",
            "A small detail about {t} feels out of place.",
            "Nobody else seems to notice.",
        ],
    },
    Aspect {
        title: "An Unexpected Discovery",
        summary: "A chance find reveals that {t} is not what everyone believed.",
        points: [
            "A hidden clue surfaces.",
            "The discovery raises more questions than it answers.",
            "Keeping the secret becomes a burden.",
        ],
    },
    Aspect {
        title: "The Point of No Return",
        summary: "A choice about {t} makes it impossible to go back to normal.",
        points: [
            "An ally offers help at a price.",
            "The stakes become personal.",
            "A door closes behind them.",
        ],
    },
    Aspect {
        title: "Things Fall Apart",
        summary: "Plans unravel and {t} demands more than anyone expected.",
        points: [
            "Trust between the characters breaks.",
            "The obstacle turns out to be bigger than it looked.",
            "Hope nearly runs out.",
        ],
    },
    Aspect {
        title: "A New Morning",
        summary: "The dust settles, and {t} looks different in the light of day.",
        points: [
            "The hero makes peace with what was lost.",
            "A final image echoes the opening.",
            "Something small has changed for good.",
        ],
    },
];

pub const PODCAST_TITLES: &[&str] = &[
    "{T}: The Untold Story",
    "Inside {T}",
    "{T}, Explained",
    "Why {T} Matters",
    "The Curious Case of {T}",
    "{T} Up Close",
    "Rethinking {T}",
    "What Nobody Tells You About {T}",
    "The Science and Stories of {T}",
    "A Field Guide to {T}",
];

pub const STORY_TITLES: &[&str] = &[
    "Echoes of {T}",
    "The Secret of {T}",
    "Beyond {T}",
    "Where {T} Begins",
    "A Lantern for {T}",
    "The Last Summer of {T}",
    "Letters About {T}",
    "The Quiet Edge of {T}",
];

pub const PODCAST_SENTENCES: &[&str] = &[
    "An accessible tour of {t}, from the basics to the questions experts still argue about.",
    "We unpack how {t} shapes daily life in ways most people never notice.",
    "Expect surprising facts, a few busted myths and practical takeaways about {t}.",
    "The hosts follow {t} from its origins to where it might be heading next.",
    "It is a story about curiosity, evidence and the people who made {t} what it is.",
    "By the end, {t} will feel both more familiar and more surprising.",
];

pub const STORY_SENTENCES: &[&str] = &[
    "When {name} stumbles onto a secret about {t}, an ordinary week turns into a race against time.",
    "A quiet town learns that {t} has been hiding in plain sight for generations.",
    "Two unlikely allies must decide how much they will risk for {t}.",
    "What begins as a small mystery about {t} becomes a test of trust and courage.",
    "Every choice brings the characters closer to the truth about {t}, and further from home.",
    "In the end, {t} teaches them that courage is a habit, not a feeling.",
];

pub const NARRATION: &[&str] = &[
    "The streetlights flickered on one by one as {name} turned the question of {t} over and over.",
    "Rain tapped against the window, patient and steady, while the old clock counted down.",
    "Nobody in town talked about {t} anymore, which was exactly why {name} could not stop thinking about it.",
    "Somewhere below, a door creaked open, and the house seemed to hold its breath.",
    "By morning the air smelled of salt and wet stone, and everything felt one step closer.",
    "{name} pressed a hand to the cold glass and made a quiet promise.",
];

pub const KEY_POINTS: &[&str] = &[
    "{t} has a longer history than most people assume.",
    "Small everyday choices are shaped by {t}.",
    "Experts still disagree about important parts of {t}.",
    "Most myths about {t} contain a grain of truth.",
    "Understanding {t} makes the news easier to follow.",
    "{t} connects science, culture and everyday life.",
    "The best stories about {t} are about people, not facts.",
    "A single invention changed the direction of {t}.",
    "Local traditions give {t} a different flavour everywhere.",
];

pub const QUESTIONS: &[&str] = &[
    "What first sparked human interest in {t}?",
    "How does {t} affect an ordinary day?",
    "What do experts still disagree about when it comes to {t}?",
    "Where is {t} heading in the next decade?",
    "What is the biggest myth about {t}?",
    "How can a listener explore {t} on their own?",
];

pub const TAG_PHRASES: &[&str] = &[
    "history",
    "science",
    "everyday life",
    "big questions",
    "myths and facts",
    "future trends",
    "people and ideas",
];

pub const PODCAST_MOODS: &[&str] = &["curious", "warm", "upbeat", "thoughtful", "playful"];
pub const STORY_MOODS: &[&str] = &["mysterious", "hopeful", "tense", "wistful", "tender"];

pub const SETTINGS: &[&str] = &[
    "a rain-soaked harbour town at the edge of winter",
    "a cluttered university lab long after midnight",
    "a mountain village the night before the first snow",
    "a busy night market lit by paper lanterns",
    "an old lighthouse that nobody has kept for years",
];

pub const STORY_ROLES: &[&str] = &["protagonist", "ally", "rival", "mentor", "wildcard"];
pub const HOST_ROLES: &[&str] = &["host", "co-host", "guest host"];

/// Names for characters beyond the speakers already known.
pub const NAMES: &[&str] = &[
    "Mara", "Theo", "Ines", "Kofi", "June", "Ravi", "Lena", "Omar",
];

pub const CHARACTER_DESCRIPTIONS: &[&str] = &[
    "{name} is stubborn, kind and far too curious about {t} for their own good.",
    "{name} has spent years pretending not to care about {t}.",
    "{name} knows more about {t} than they admit, and it shows in small ways.",
    "{name} is cheerful on the surface and quietly afraid of what {t} might mean.",
];

pub const PODCAST_OPENINGS: &[&str] = &[
    "Welcome to {show}! I'm {a}, here with {b}, and today we're talking about {t}. First up: {title}.",
    "Hi everyone, and welcome to {show}. I'm {a}, {b} is with me, and we're diving into {t}, starting with {title}.",
];

pub const SOLO_OPENING: &str =
    "Welcome to {show}! I'm {a}, and today we're talking about {t}. First up: {title}.";

pub const TRANSITIONS: &[&str] = &[
    "Let's move on to {title}.",
    "Next up: {title}.",
    "That brings us neatly to {title}.",
    "Now for something I've been waiting for: {title}.",
];

pub const SUMMARY_LEADS: &[&str] = &[
    "Here's the short version: {summary}",
    "Right. In a nutshell: {summary}",
    "So, the big picture: {summary}",
];

pub const POINT_LEADS: &[&str] = &[
    "One thing that stands out: {point}",
    "And here's the part people miss: {point}",
    "Think about it this way: {point}",
    "What surprised me most: {point}",
];

pub const REACTIONS: &[&str] = &[
    "Wait, so how does that change the way we think about {t}?",
    "That honestly surprised me the first time I read about it.",
    "I love that, because it makes {t} feel so much more human.",
    "So if listeners remember one thing from {title}, what should it be?",
    "Okay, that's a great example. Let's keep going.",
];

pub const CLOSINGS: &[&str] = &[
    "That's all for today. Thanks for listening to {show}, and see you next time.",
    "And that's a wrap on {t}. Thanks for spending this time with us on {show}.",
];

pub const STORY_ENDINGS: &[&str] = &[
    "Whatever comes next, we face it together.",
    "It's quiet now. The good kind of quiet.",
    "Come on. Let's go home.",
];

pub const STORY_DIALOGUE: &[&str] = &[
    "Did you feel that? Something about {t} just changed.",
    "We can't tell anyone. Not yet.",
    "You keep saying it's nothing, but you're shaking.",
    "If we're right about {t}, everything we were told is wrong.",
    "Then we do it together. No more secrets.",
    "Look at the sky. It's the same colour as the night it started.",
    "I'm not afraid of {t}. I'm afraid of what happens if we do nothing.",
    "Hold the lantern higher. There, do you see it?",
    "Promise me you'll remember this, whatever happens.",
    "I used to think {t} was just a story people told.",
    "Listen. That sound wasn't here yesterday.",
    "Every answer we find leads to another locked door.",
    "You came back. I didn't think you would.",
    "Whatever we decide, we decide it now.",
];

pub const SPOKEN: &[&str] = &[
    "Today we're exploring {t}, and trust me, it's more surprising than it sounds.",
    "Stick around, because {t} has a twist most people never hear about.",
    "If you've ever wondered about {t}, this one is for you.",
];

pub const AUDIENCES: &[&str] = &[
    "Curious listeners who like learning something new on their commute",
    "Busy professionals who want the big picture in under half an hour",
    "Students and lifelong learners meeting {t} for the first time",
];

pub const IMAGE_PROMPTS: &[&str] = &[
    "A bold, colourful illustration evoking {t}, layered shapes and soft light, no text",
    "A minimalist poster about {t}, strong silhouettes and a warm gradient sky, no text",
];

pub const REVISE_ADDITIONS: &[&str] = &[
    "In short, this is where {t} stops being abstract and becomes personal.",
    "The stakes are now stated plainly, so the moment lands harder.",
    "A sharper detail makes the point easier to remember.",
    "This beat now links directly back to {t}.",
];

pub const ENHANCE_ADDITIONS: &[&str] = &[
    "The air hums, and every small sound seems to matter.",
    "Warm light spills across the scene, and for a moment nobody speaks.",
    "A distant bell rings, echoing the rhythm of {t}.",
    "The details are vivid now: the smell of rain, the creak of old wood, a heartbeat too loud.",
];

pub const SPOKEN_ADDITIONS: &[&str] = &[
    "Honestly, that still gives me chills.",
    "And I mean that.",
    "Let that sink in for a second.",
];

pub const REVISE_NOTES: &[&str] = &[
    "Tightened the opening so it reaches {t} faster.",
    "Clarified each character's motivation.",
    "Cut repetition and sharpened the dialogue.",
    "Smoothed the transitions between scenes.",
    "Made the ending echo the opening.",
];

pub const ENHANCE_NOTES: &[&str] = &[
    "Added sensory detail to every scene.",
    "Gave the narration a stronger sense of place.",
    "Added emotional beats to the dialogue.",
    "Strengthened the imagery around {t}.",
    "Raised the tension before the climax.",
];

pub const GENERIC: &[&str] = &[
    "A closer look at {t}.",
    "Notes on {t} for curious minds.",
    "Everything worth knowing about {t}, in brief.",
];

/// Fills the placeholders of `template`; unknown placeholders stay as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_string();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}
