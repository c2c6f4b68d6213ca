/* listen.h — inside `ringcast listen`: the stream (ringcast_listen.c) and the sinks it feeds. */
#ifndef RINGCAST_LISTEN_H
#define RINGCAST_LISTEN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "shared/proto.h"

/* One audio packet as the stream hands it to a sink. */
struct listen_audio {
	const struct proto_audio *a;	/* mask, channel count, raw samples */
	const float	*pcm;		/* frames x a->nch: float32 or --play */
	uint32_t	 frames;	/* of a: what --seconds still wants */
	uint32_t	 rate;		/* the server's sample rate */
	uint32_t	 mask_words;
	bool		 new_mask;	/* other channels than the last packet */
};

/*
 * --out: 16-bit PCM WAV files.  A file is opened at the first packet and
 * again, as path-2.wav, path-3.wav ..., whenever the channel count or the
 * rate changes.  Errors are reported here; -1 is fatal for the run.
 */
struct wavfile;

struct wavfile *wavfile_new(const char *path, bool quiet);
int	wavfile_write(struct wavfile *w, const struct listen_audio *b);
void	wavfile_free(struct wavfile *w);

/*
 * --play: stereo on the default PortAudio output, mixed here from the
 * latest mix_state as the app does (or the server's mix as it comes),
 * through a lock-free buffer the real-time callback reads.  play_new runs
 * before connecting and says why when nothing can play.
 */
struct play;

struct play *play_new(bool server_mix);
int	play_write(struct play *p, const struct listen_audio *b);
void	play_mix_state(struct play *p, const json_t *mix_state);
void	play_drain(struct play *p);
void	play_summary(const struct play *p);
void	play_free(struct play *p);

/* Sleep ms unless SIGINT or SIGTERM comes first: false if one did. */
bool	listen_sleep(int ms);

#endif
