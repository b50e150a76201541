#!/usr/bin/env bash
# Generates the IVR voice prompts in config/prompts/ with espeak-ng (Mandarin
# voice `cmn`) and sox: 8 kHz, mono, 16-bit signed PCM WAV, peak-normalised
# to -3 dBFS. Replace any file with a real recording later (see
# config/prompts/README.md); rerun this script to restore the synthetic ones.
#
# Usage: scripts/gen-prompts.sh [OUTPUT_DIR]   (default: config/prompts)
# Needs: espeak-ng (with the cmn voice), sox.
set -euo pipefail

out_dir="${1:-$(dirname "$0")/../config/prompts}"

# The prompt texts, in one place: file name (without .wav) and what it says.
declare -A PROMPTS=(
    [greeting]="您好,这里是物业客户服务热线,本次通话将被录音。"
    [menu]="报修请按1,投诉请按2,有偿服务请按3,咨询请按4,人工服务请按0。"
    [invalid]="输入有误,请重新选择。"
    [voicemail]="现在无法接通人工服务,请在提示音后留言,按井号键结束。"
    [thanks]="您的留言已记录,我们会尽快与您联系,谢谢您的来电,再见。"
    [queue]="正在为您转接人工服务,请稍候。"
    [position_1]="您现在排在第一位,请稍候。"
    [position_2]="您现在排在第二位,请稍候。"
    [position_3]="您现在排在第三位,请稍候。"
    [position_4]="您现在排在第四位,请稍候。"
    [position_5]="您现在排在第五位,请稍候。"
    [position_6]="您现在排在第六位,请稍候。"
    [position_7]="您现在排在第七位,请稍候。"
    [position_8]="您现在排在第八位,请稍候。"
    [position_9]="您现在排在第九位,请稍候。"
    [position_more]="您前面还有多位来电,请耐心等待。"
)

# espeak-ng settings: Mandarin voice, speed in words per minute.
VOICE=cmn
SPEED_WPM=160

# Output format every prompt must have (the media layer plays nothing else).
RATE_HZ=8000
CHANNELS=1
BITS=16
PEAK_DBFS=-3

# The beep before a voice message: a sine tone.
BEEP_HZ=1000
BEEP_SECONDS=0.4
BEEP_FADE_SECONDS=0.01

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "gen-prompts: $tool is not installed" >&2; exit 1; }
done

mkdir -p "$out_dir"
tmp_dir="$(mktemp -d)"
trap 'rm -rf "$tmp_dir"' EXIT

# Resample, downmix, set 16-bit signed PCM and normalise the peak level.
# `-R` makes the dither repeatable, so a rerun gives byte-identical files.
convert() {
    local input="$1" output="$2"
    sox -R "$input" -r "$RATE_HZ" -c "$CHANNELS" -b "$BITS" -e signed-integer "$output" norm "$PEAK_DBFS"
}

for name in "${!PROMPTS[@]}"; do
    raw="$tmp_dir/$name.raw.wav"
    espeak-ng -v "$VOICE" -s "$SPEED_WPM" -w "$raw" "${PROMPTS[$name]}"
    convert "$raw" "$out_dir/$name.wav"
done

sox -R -n -r "$RATE_HZ" -c "$CHANNELS" -b "$BITS" -e signed-integer "$tmp_dir/beep.wav" \
    synth "$BEEP_SECONDS" sine "$BEEP_HZ" fade "$BEEP_FADE_SECONDS" "$BEEP_SECONDS" "$BEEP_FADE_SECONDS"
convert "$tmp_dir/beep.wav" "$out_dir/beep.wav"

# Hold music: a soft arpeggio (C major, then A minor), 8 s, looped by the
# daemon while a caller waits or is on hold.
HOLD_NOTES=(261.63 329.63 392.00 523.25 392.00 329.63 220.00 261.63 329.63 440.00 329.63 261.63)
HOLD_NOTE_SECONDS=0.6667
notes=()
for freq in "${HOLD_NOTES[@]}"; do
    note="$tmp_dir/note_${#notes[@]}.wav"
    sox -R -n -r "$RATE_HZ" -c "$CHANNELS" -b "$BITS" -e signed-integer "$note" \
        synth "$HOLD_NOTE_SECONDS" sine "$freq" fade q 0.05 "$HOLD_NOTE_SECONDS" 0.2 vol 0.5
    notes+=("$note")
done
sox -R "${notes[@]}" "$tmp_dir/hold.wav"
convert "$tmp_dir/hold.wav" "$out_dir/hold.wav"

# The 回访 survey's pieces (survey/), joined by the daemon per work order:
# intro + month + day + kind + question.
CN_DIGITS=(零 一 二 三 四 五 六 七 八 九 十)
cn_number() { # 1..31 in Chinese numerals
    local n="$1"
    if (( n <= 10 )); then echo "${CN_DIGITS[$n]}"
    elif (( n < 20 )); then echo "十${CN_DIGITS[$((n - 10))]}"
    elif (( n % 10 == 0 )); then echo "${CN_DIGITS[$((n / 10))]}十"
    else echo "${CN_DIGITS[$((n / 10))]}十${CN_DIGITS[$((n % 10))]}"
    fi
}
declare -A SURVEY=(
    [intro]="您好,这里是物业客服中心,关于您"
    [kind_repair]="报修的问题已处理完毕,"
    [kind_complaint]="投诉的问题已处理完毕,"
    [kind_paid_service]="申请的有偿服务已完成,"
    [kind_inquiry]="咨询的问题已答复,"
    [kind_other]="反映的问题已处理完毕,"
    [question]="满意请按1,基本满意请按2,不满意请按3。"
    [thanks]="感谢您的评价,再见。"
)
for month in $(seq 1 12); do SURVEY[month_$month]="$(cn_number "$month")月"; done
for day in $(seq 1 31); do SURVEY[day_$day]="$(cn_number "$day")日"; done
mkdir -p "$out_dir/survey"
for name in "${!SURVEY[@]}"; do
    raw="$tmp_dir/survey_$name.raw.wav"
    espeak-ng -v "$VOICE" -s "$SPEED_WPM" -w "$raw" "${SURVEY[$name]}"
    convert "$raw" "$out_dir/survey/$name.wav"
done

for name in "${!PROMPTS[@]}" beep; do
    printf '%-10s %s\n' "$name.wav" "$(soxi -d "$out_dir/$name.wav")"
done
