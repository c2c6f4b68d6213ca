/* listen_wavfile.c — `ringcast listen --out`: records what arrives to WAV files. */
#include <err.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "cli/listen.h"

#define WAVFILE_MAX	1000	/* files one run may open */

struct wavfile {
	const char	*base;		/* the path given to --out */
	bool		 quiet;
	SNDFILE		*sf;
	int		 index;		/* files opened so far */
	uint32_t	 rate;
	uint32_t	 nch;
	int16_t		*tmp;
	size_t		 tmp_cap;	/* samples */
};

struct wavfile *
wavfile_new(const char *path, bool quiet)
{
	struct wavfile *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		warn("listen");
		return NULL;
	}
	w->base = path;
	w->quiet = quiet;
	return w;
}

/*
 * The first file is the path given; when the channel count or the rate
 * changes mid-stream, the recording goes on in a new file with "-2", "-3",
 * ... before the extension, because one WAV file has one layout.
 */
static void
wavfile_path(const char *base, int index, char *out, size_t len)
{
	const char *slash = strrchr(base, '/');
	const char *dot = strrchr(base, '.');

	if (index == 1) {
		snprintf(out, len, "%s", base);
		return;
	}
	if (dot == NULL || (slash != NULL && dot < slash) || dot == base ||
	    dot[-1] == '/')
		dot = base + strlen(base);
	snprintf(out, len, "%.*s-%d%s", (int)(dot - base), base, index, dot);
}

static int
wavfile_open(struct wavfile *w, uint32_t nch, uint32_t rate)
{
	char path[4096];
	SF_INFO info;

	if (w->index >= WAVFILE_MAX) {
		warnx("%s: too many layout changes, giving up", w->base);
		return -1;
	}
	wavfile_path(w->base, ++w->index, path, sizeof(path));
	memset(&info, 0, sizeof(info));
	info.samplerate = rate;
	info.channels = nch;
	info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	if ((w->sf = sf_open(path, SFM_WRITE, &info)) == NULL) {
		warnx("%s: %s", path, sf_strerror(NULL));
		return -1;
	}
	/* A file cut short by a crash or a kill stays a valid WAV. */
	sf_command(w->sf, SFC_SET_UPDATE_HEADER_AUTO, NULL, SF_TRUE);
	sf_command(w->sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
	w->nch = nch;
	w->rate = rate;
	if (w->index > 1 && !w->quiet)
		warnx("channel layout changed: recording %u channels to %s",
		    nch, path);
	return 0;
}

static void
wavfile_close(struct wavfile *w)
{
	if (w->sf != NULL)
		sf_close(w->sf);
	w->sf = NULL;
}

/* int16 streams are written as received, bit for bit. */
static int
wavfile_write_int16(struct wavfile *w, const struct proto_audio *a,
    uint32_t frames)
{
	size_t i, n = (size_t)frames * a->nch;
	const uint8_t *p = a->samples;
	int16_t *t;

	if (n > w->tmp_cap) {
		if ((t = realloc(w->tmp, n * sizeof(*t))) == NULL)
			return -1;
		w->tmp = t;
		w->tmp_cap = n;
	}
	for (i = 0; i < n; i++)
		w->tmp[i] = (int16_t)((uint16_t)p[2 * i] << 8 | p[2 * i + 1]);
	return sf_writef_short(w->sf, w->tmp, frames) == frames ? 0 : -1;
}

int
wavfile_write(struct wavfile *w, const struct listen_audio *b)
{
	int rc;

	if (w->sf != NULL && (w->nch != b->a->nch || w->rate != b->rate))
		wavfile_close(w);
	if (w->sf == NULL && wavfile_open(w, b->a->nch, b->rate) == -1)
		return -1;
	if (b->a->float32)
		rc = sf_writef_float(w->sf, b->pcm, b->frames) == b->frames ?
		    0 : -1;
	else
		rc = wavfile_write_int16(w, b->a, b->frames);
	if (rc == -1)
		warnx("%s: write failed: %s", w->base, sf_strerror(w->sf));
	return rc;
}

void
wavfile_free(struct wavfile *w)
{
	if (w == NULL)
		return;
	wavfile_close(w);
	free(w->tmp);
	free(w);
}
