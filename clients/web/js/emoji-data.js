// A small, own emoji set for the picker: the common ones, each with the words
// a search matches. No network, no build step; add lines here to grow it.

const RAW = `
😀 grinning smile happy|😃 smiley happy|😄 smile happy joy|😁 grin beam|😆 laughing satisfied|😅 sweat smile|😂 joy tears laugh lol|🤣 rofl rolling laugh|🙂 slight smile|🙃 upside down|😉 wink|😊 blush smile|😇 innocent halo angel|🥰 love hearts|😍 heart eyes love|🤩 star struck|😘 kiss|😋 yum tasty|😛 tongue|😜 wink tongue crazy|🤪 zany crazy|🤗 hug|🤭 oops giggle|🤫 shush quiet|🤔 thinking hmm|🤐 zipper quiet|😐 neutral|😑 expressionless|😶 no mouth|😏 smirk|😒 unamused|🙄 eye roll|😬 grimace awkward|😌 relieved|😔 pensive sad|😪 sleepy|😴 sleeping zzz|😷 mask sick|🤒 thermometer sick|🤢 nauseated|🤮 vomit|🥵 hot|🥶 cold freezing|🥴 woozy|😵 dizzy|🤯 mind blown exploding|🤠 cowboy|🥳 party celebrate|😎 sunglasses cool|🤓 nerd|🧐 monocle|😕 confused|😟 worried|🙁 frown|😮 open mouth wow surprised|😯 hushed|😲 astonished shocked|😳 flushed embarrassed|🥺 pleading puppy|😦 frowning|😧 anguished|😨 fearful scared|😰 anxious sweat|😥 sad relieved|😢 cry sad tear|😭 sob crying|😱 scream fear|😖 confounded|😣 persevere|😞 disappointed|😓 downcast sweat|😩 weary|😫 tired|🥱 yawn|😤 triumph huff|😡 pout angry rage|😠 angry|🤬 cursing swear|😈 devil smiling|💀 skull dead|💩 poop|🤡 clown|👻 ghost|👽 alien|🤖 robot|😺 cat smile|
👋 wave hello hi bye|🤚 raised back hand|✋ raised hand stop high five|👌 ok perfect|✌️ victory peace|🤞 fingers crossed luck|🤟 love you|🤘 rock horns|🤙 call me|👈 point left|👉 point right|👆 point up|👇 point down|👍 thumbs up yes like|👎 thumbs down no dislike|✊ fist|👊 punch fist bump|👏 clap applause|🙌 raised hands hooray|👐 open hands|🤲 palms up|🤝 handshake deal|🙏 pray please thanks|💪 muscle strong|👀 eyes look|🧠 brain|
❤️ red heart love|🧡 orange heart|💛 yellow heart|💚 green heart|💙 blue heart|💜 purple heart|🖤 black heart|🤍 white heart|💔 broken heart|💕 two hearts|💯 hundred perfect|💢 anger|💥 boom collision|💫 dizzy star|💦 sweat drops|💨 dash|💬 speech bubble chat|💭 thought bubble|💤 zzz sleep|
🎉 tada party celebrate congrats|🎊 confetti|🎈 balloon|🎁 gift present|🎂 birthday cake|🏆 trophy win|🥇 gold medal first|⚽ soccer football|🏀 basketball|🎮 video game|🎵 music note|🎶 music notes|🎧 headphones|📷 camera photo|💻 laptop computer|📱 phone mobile|⌚ watch time|⏰ alarm clock|📅 calendar date|📌 pin|📎 paperclip|✏️ pencil|📝 memo note|📚 books|💡 bulb idea|🔥 fire lit hot|⭐ star|🌟 glowing star|✨ sparkles|⚡ lightning zap|☀️ sun sunny|🌙 moon night|☁️ cloud|🌧️ rain|❄️ snowflake snow cold|🌈 rainbow|🌸 blossom flower|🌹 rose flower|🌻 sunflower|🌲 tree|🍀 clover luck|
🍎 apple|🍕 pizza|🍔 burger hamburger|🍟 fries|🌮 taco|🍣 sushi|🍜 ramen noodles|🍩 doughnut donut|🍪 cookie|🍫 chocolate|🍿 popcorn|☕ coffee|🍵 tea|🍺 beer|🍻 cheers beers|🥂 champagne toast cheers|🍷 wine|🥤 soda drink|
🐶 dog puppy|🐱 cat kitty|🐭 mouse|🐰 rabbit bunny|🦊 fox|🐻 bear|🐼 panda|🐨 koala|🐯 tiger|🦁 lion|🐮 cow|🐷 pig|🐸 frog|🐵 monkey|🐔 chicken|🐧 penguin|🐦 bird|🦄 unicorn|🐝 bee|🦋 butterfly|🐢 turtle|🐙 octopus|🐬 dolphin|🐳 whale|
🚀 rocket launch ship|✈️ airplane travel|🚗 car|🚲 bicycle bike|🏠 house home|🏢 office building|⛱️ beach umbrella|🗺️ map|
✅ check done yes|❌ cross no wrong|❓ question|❗ exclamation|⚠️ warning|🚫 prohibited no|🔒 lock|🔑 key|💰 money bag|💸 money wings|📈 chart up|📉 chart down|🆗 ok button|🆕 new|➕ plus add|➖ minus|➡️ right arrow|⬅️ left arrow|🔁 repeat|⏳ hourglass wait`;

export const EMOJI = RAW.split('|').map((s) => s.trim()).filter(Boolean).map((line) => {
  const [char, ...words] = line.split(' ');
  return { char, name: words.join(' ') };
});

/** Emoji whose name has a word starting with the query (all of them for an empty query). */
export function searchEmoji(query) {
  const q = query.trim().toLowerCase();
  if (!q) return EMOJI;
  return EMOJI.filter((e) => e.name.split(' ').some((w) => w.startsWith(q)) || e.char === q);
}
