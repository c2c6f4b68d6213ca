/* capture_pa.c — the "portaudio:NAME|INDEX" source and --list-devices. */
#include <alsa/asoundlib.h>
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pa_jack.h>
#include <portaudio.h>

#include "shared/log.h"
#include "shared/text.h"
#include "capture/capture.h"

#define PA_CLIENT_NAME	"ringcast-capture"	/* JACK client, if through JACK */
#define PA_RETRY_MS	250	/* a second look for a missing device */

struct pa {
	PaStream		*stream;
	PaStreamParameters	 in;
	int			 running;
};

/*
 * ALSA reports every card it probes and does not find (common on servers
 * and in containers) on stderr; keep that for -v.
 */
static void
alsa_log(const char *file, int line, const char *func, int err,
    const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	(void)file;
	(void)line;
	(void)err;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_debug("alsa %s: %s", func, buf);
}

/*
 * Pa_Initialize probes every host API, and libjack prints to stderr when no
 * JACK server runs, which is normal.  Unless -v, that probe talks to
 * /dev/null; no other thread runs yet, so borrowing stderr is safe.
 */
static int
pa_init(int verbose)
{
	int saved = -1, null;
	PaError e;

	snd_lib_error_set_handler(alsa_log);
	PaJack_SetClientName(PA_CLIENT_NAME);
	if (!verbose && (null = open("/dev/null", O_WRONLY | O_CLOEXEC)) != -1) {
		saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
		dup2(null, STDERR_FILENO);
		close(null);
	}
	e = Pa_Initialize();
	if (saved != -1) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (e != paNoError) {
		log_warnx("PortAudio: %s%s", Pa_GetErrorText(e),
		    verbose ? "" : " (-v shows more)");
		return -1;
	}
	return 0;
}

/*
 * Before a second look for devices: a sound server busy registering or
 * dropping another client (JACK) can refuse PortAudio's probe for a
 * moment.  Not on the audio path: open and list only.
 */
static void
retry_pause(void)
{
	struct timespec ts = { 0, PA_RETRY_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/* Every input device, as the supervisor and --list-devices show them. */
int
capture_pa_devices(int verbose, struct msg_capture_devices *m)
{
	const PaDeviceInfo *d;
	struct msg_device *o;
	PaDeviceIndex i, n;

	memset(m, 0, sizeof(*m));
	if (pa_init(verbose) == -1) {
		snprintf(m->error, sizeof(m->error), "%s", log_last_warning());
		return -1;
	}
	if ((n = Pa_GetDeviceCount()) < 0) {
		snprintf(m->error, sizeof(m->error), "PortAudio: %s",
		    Pa_GetErrorText(n));
		Pa_Terminate();
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((d = Pa_GetDeviceInfo(i)) == NULL || d->maxInputChannels <= 0)
			continue;
		if (m->n == MSG_DEVICES_MAX) {
			m->truncated = 1;
			break;
		}
		o = &m->dev[m->n++];
		o->index = i;
		o->inputs = (uint32_t)d->maxInputChannels;
		o->default_rate = (uint32_t)d->defaultSampleRate;
		/* A name is shown and matched as text: no control bytes. */
		text_clean(o->name, sizeof(o->name), d->name);
		text_clean(o->host_api, sizeof(o->host_api),
		    Pa_GetHostApiInfo(d->hostApi)->name);
	}
	Pa_Terminate();
	return 0;
}

void
capture_pa_print(const struct msg_capture_devices *m)
{
	uint32_t i;

	printf("index\tname\thost api\tinputs\tdefault rate\n");
	for (i = 0; i < m->n; i++)
		printf("%d\t%s\t%s\t%u\t%u\n", m->dev[i].index,
		    m->dev[i].name, m->dev[i].host_api, m->dev[i].inputs,
		    m->dev[i].default_rate);
	fflush(stdout);
}

const char *
capture_pa_auto(int verbose, char *name, size_t len)
{
	static struct msg_capture_devices m;
	const struct msg_device *best = NULL;
	uint32_t i;

	/* None: one more look a moment later (see pa_open). */
	if (capture_pa_devices(verbose, &m) == -1 || m.n == 0) {
		retry_pause();
		if (capture_pa_devices(verbose, &m) == -1)
			return NULL;
	}
	/* The most inputs; of equals, the first PortAudio lists. */
	for (i = 0; i < m.n; i++)
		if (best == NULL || m.dev[i].inputs > best->inputs)
			best = &m.dev[i];
	if (best == NULL)
		return NULL;
	snprintf(name, len, "%s", best->name);
	return name;
}

static int
is_index(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int
has_input(PaDeviceIndex i)
{
	const PaDeviceInfo *d = Pa_GetDeviceInfo(i);

	return d != NULL && d->maxInputChannels > 0;
}

static PaDeviceIndex
find_by_index(const char *spec, PaDeviceIndex n)
{
	long v = strtol(spec, NULL, 10);

	if (v >= n || (v == LONG_MAX)) {
		log_warnx("no PortAudio device %s (there are %d; see "
		    "--list-devices)", spec, n);
		return paNoDevice;
	}
	if (!has_input((PaDeviceIndex)v)) {
		log_warnx("PortAudio device %ld (%s) has no inputs", v,
		    Pa_GetDeviceInfo((PaDeviceIndex)v)->name);
		return paNoDevice;
	}
	return (PaDeviceIndex)v;
}

/* "ALSA, JACK Audio Connection Kit": what PortAudio could talk to. */
static const char *
host_apis(void)
{
	static char buf[256];
	PaHostApiIndex i, n = Pa_GetHostApiCount();
	size_t o = 0;

	snprintf(buf, sizeof(buf), "none");
	for (i = 0; i < n && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    i ? ", " : "", Pa_GetHostApiInfo(i)->name);
	return buf;
}

/* Exact name first, then a substring that only one input device has. */
static PaDeviceIndex
find_by_name(const char *spec, PaDeviceIndex n)
{
	PaDeviceIndex i, found = paNoDevice;
	int matches = 0;

	for (i = 0; i < n; i++)
		if (has_input(i) && strcmp(Pa_GetDeviceInfo(i)->name, spec) == 0)
			return i;
	for (i = 0; i < n; i++) {
		if (!has_input(i) || strstr(Pa_GetDeviceInfo(i)->name,
		    spec) == NULL)
			continue;
		if (matches++ > 0)
			log_warnx("\"%s\" matches input devices %d (%s) and %d "
			    "(%s)", spec, found, Pa_GetDeviceInfo(found)->name,
			    i, Pa_GetDeviceInfo(i)->name);
		found = i;
	}
	if (matches == 0)
		log_warnx("no PortAudio input device matches \"%s\" (host APIs "
		    "found: %s; see --list-devices)", spec, host_apis());
	return matches == 1 ? found : paNoDevice;
}

/* Whether spec names an input device, without a word (see pa_open). */
static int
any_match(const char *spec)
{
	PaDeviceIndex i, n = Pa_GetDeviceCount();
	long v;

	if (is_index(spec)) {
		v = strtol(spec, NULL, 10);
		return v < n && has_input((PaDeviceIndex)v);
	}
	for (i = 0; i < n; i++)
		if (has_input(i) && strstr(Pa_GetDeviceInfo(i)->name, spec))
			return 1;
	return 0;
}

static PaDeviceIndex
find_device(const char *spec)
{
	PaDeviceIndex n;

	if ((n = Pa_GetDeviceCount()) < 0) {
		log_warnx("PortAudio: %s", Pa_GetErrorText(n));
		return paNoDevice;
	}
	return is_index(spec) ? find_by_index(spec, n) : find_by_name(spec, n);
}

/*
 * The real-time callback: one period in, one period published.  It never
 * locks, allocates, logs or blocks; device trouble is counted in the ring.
 */
static int
pa_callback(const void *input, void *output, unsigned long frames,
    const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags,
    void *arg)
{
	struct capture *c = arg;
	size_t bytes = (size_t)c->period * c->channels * sizeof(float);
	float *dst;

	(void)output;
	(void)ti;
	/* Started before the ring came (the switch's gap stays short). */
	if (!atomic_load_explicit(&c->attached, memory_order_acquire))
		return paContinue;
	if (flags & (paInputOverflow | paInputUnderflow))
		ring_writer_count_xrun(c->w);
	/* A fixed framesPerBuffer makes this impossible; never publish torn. */
	if (frames != c->period) {
		ring_writer_count_xrun(c->w);
		return paContinue;
	}
	dst = ring_writer_begin(c->w);
	if (input != NULL)
		memcpy(dst, input, bytes);
	else
		memset(dst, 0, bytes);
	ring_writer_update_meters(c->w, dst);
	ring_writer_publish(c->w, 0);
	c->seq++;
	capture_published(c);
	return paContinue;
}

static int
pa_params(struct capture *c, struct pa *p, PaDeviceIndex dev)
{
	const PaDeviceInfo *d = Pa_GetDeviceInfo(dev);
	char name[MSG_SOURCE_MAX - 16];
	uint32_t max = (uint32_t)d->maxInputChannels;
	PaError e;

	if (max > RING_MAX_CHANNELS)
		max = RING_MAX_CHANNELS;
	if (c->channels == 0)
		c->channels = max;
	if (c->channels > max) {
		log_warnx("%s has %u input channels, --channels is %u",
		    d->name, max, c->channels);
		return -1;
	}
	p->in.device = dev;
	p->in.channelCount = (int)c->channels;
	p->in.sampleFormat = paFloat32;
	p->in.suggestedLatency = d->defaultLowInputLatency;
	p->in.hostApiSpecificStreamInfo = NULL;
	if ((e = Pa_IsFormatSupported(&p->in, NULL, c->rate)) != paFormatIsSupported) {
		log_warnx("%s: %u channels at %u Hz: %s", d->name, c->channels,
		    c->rate, Pa_GetErrorText(e));
		return -1;
	}
	snprintf(c->desc, sizeof(c->desc), "portaudio:%s [%s, device %d]",
	    d->name, Pa_GetHostApiInfo(d->hostApi)->name, dev);
	text_clean(name, sizeof(name), d->name);
	snprintf(c->source, sizeof(c->source), "portaudio:%s", name);
	return 0;
}

static void
pa_close(struct capture *c)
{
	struct pa *p = c->priv;

	if (p->stream != NULL)
		Pa_CloseStream(p->stream);
	Pa_Terminate();
	free(p);
}

/* Open the stream here, so device errors show before the ring is touched. */
static int
pa_open(struct capture *c)
{
	struct pa *p;
	PaDeviceIndex dev;
	PaError e;

	if (c->source_spec == NULL || *c->source_spec == '\0') {
		log_warnx("source portaudio needs a device: "
		    "portaudio:NAME|INDEX (see --list-devices)");
		return -1;
	}
	if (pa_init(c->verbose) == -1)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("portaudio");
		Pa_Terminate();
		return -1;
	}
	c->priv = p;
	/* Missing: one more look, a moment later, before saying so. */
	if (!any_match(c->source_spec)) {
		Pa_Terminate();
		retry_pause();
		if (pa_init(c->verbose) == -1) {
			c->priv = NULL;
			free(p);
			return -1;
		}
	}
	if ((dev = find_device(c->source_spec)) == paNoDevice ||
	    pa_params(c, p, dev) == -1)
		return -1;
	e = Pa_OpenStream(&p->stream, &p->in, NULL, c->rate, c->period,
	    paClipOff | paDitherOff, pa_callback, c);
	if (e != paNoError) {
		p->stream = NULL;
		log_warnx("%s: open: %s", c->desc, Pa_GetErrorText(e));
		return -1;
	}
	return 0;
}

static int
pa_start(struct capture *c)
{
	struct pa *p = c->priv;
	PaError e;

	if ((e = Pa_StartStream(p->stream)) != paNoError) {
		log_warnx("%s: start: %s", c->desc, Pa_GetErrorText(e));
		return -1;
	}
	p->running = 1;
	return 0;
}

static int
pa_check(struct capture *c)
{
	struct pa *p = c->priv;
	PaError e = Pa_IsStreamActive(p->stream);

	if (e == 1)
		return 0;
	log_warnx("%s: the stream stopped: %s", c->desc, e == 0 ?
	    "device gone?" : Pa_GetErrorText(e));
	return -1;
}

/* Pa_StopStream returns once the callback has finished for good. */
static void
pa_stop(struct capture *c)
{
	struct pa *p = c->priv;
	PaError e;

	if (p == NULL || !p->running)
		return;
	if ((e = Pa_StopStream(p->stream)) != paNoError &&
	    e != paStreamIsStopped) {
		log_warnx("%s: stop: %s", c->desc, Pa_GetErrorText(e));
		/* The ring is unmapped next: the callback must be done. */
		Pa_AbortStream(p->stream);
	}
	p->running = 0;
}

/* In the order capture.c calls them (capture.h). */
const struct capture_source capture_pa = { "portaudio", true, 1, pa_open,
    pa_start, pa_check, pa_stop, pa_close, NULL, NULL, NULL };
