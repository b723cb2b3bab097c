#!/usr/bin/env bash
# Debian packages the tests need beyond Python and Node: Chromium (browser end-to-end tests),
# espeak-ng and sox (speech clips and a local TTS server in tests), codec2-examples and alsa-utils
# and asterisk-core-sounds-{en,fr,it,ru}-wav and asterisk-prompt-{es-co,fr-armelle,it-menardi-wav}
# and ktuberling-data (real human speech recordings the real-speech rooms are cut from).
# Installs only what is missing, only as root with apt-get; otherwise says what to install.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
[ -d /usr/share/codec2/raw ] || need+=(codec2-examples)
[ -d /usr/share/sounds/alsa ] || need+=(alsa-utils)
# voice-prompt speakers (real speech) for the rooms meeting-6 and standup
for voice in en:en_US_f_Allison fr:fr_CA_f_June it:it_IT_m_Carlo ru:ru_RU_f_IvrvoiceRU; do
  [ -f /usr/share/asterisk/sounds/"${voice#*:}"/hello.wav ] || need+=(asterisk-core-sounds-"${voice%%:*}"-wav)
done
# voice-prompt speakers no tuning room uses, for the held-out rooms meeting-7 and huddle (fifth round)
[ -f /usr/share/asterisk/sounds/es/agent-alreadyon.gsm ] || need+=(asterisk-prompt-es-co)
[ -f /usr/share/asterisk/sounds/fr/agent-alreadyon.gsm ] || need+=(asterisk-prompt-fr-armelle)
[ -f /usr/share/asterisk/sounds/it_IT_f_Menardi/agent-alreadyon.wav ] || need+=(asterisk-prompt-it-menardi-wav)
# volunteers' recorded words (ktuberling's spoken stamp names), for kt-meeting, kt-phone (seventh round) and kt-panel (eighth)
[ -d /usr/share/ktuberling/sounds/lt ] || need+=(ktuberling-data)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing Debian packages: ${need[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "setup: missing Debian packages for some tests: ${need[*]} (install them, e.g. sudo apt-get install ${need[*]})" >&2
fi
