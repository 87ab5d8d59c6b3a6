#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# send-mail.sh: a worker command for `switchboard work` (README's tour):
#
#   switchboard work jobs.mail -- examples/send-mail.sh
#
# The job's payload arrives on standard input, its id and attempt number in
# $SWITCHBOARD_JOB_ID and $SWITCHBOARD_JOB_ATTEMPTS. Exit status 0 acks the
# job; anything else gives it back to the queue to be retried. This stand-in
# only says what it would send: put your mailer where the echo is.
set -eu
payload=$(cat)
case "$payload" in
*'"to"'*) ;;
*) echo "send-mail.sh: job $SWITCHBOARD_JOB_ID has no \"to\": $payload" >&2; exit 1 ;;
esac
echo "mail for job $SWITCHBOARD_JOB_ID (attempt $SWITCHBOARD_JOB_ATTEMPTS): $payload"
