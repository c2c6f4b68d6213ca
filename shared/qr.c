/* qr.c — QR codes of login links: libqrencode makes the modules, we only draw them. */
#define _GNU_SOURCE	/* open_memstream */
#include <stdio.h>
#include <stdlib.h>

#include <qrencode.h>

#include "shared/qr.h"

#define QR_QUIET	4	/* the quiet zone the standard asks for, in modules */

static QRcode *
qr_make(const char *text)
{
	return QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
}

static int
qr_dark(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0;
	return q->data[y * q->width + x] & 1;
}

char *
qr_svg(const char *text)
{
	QRcode *q;
	FILE *f;
	char *out = NULL;
	size_t len = 0;
	int x, y, side;

	if ((q = qr_make(text)) == NULL)
		return NULL;
	if ((f = open_memstream(&out, &len)) == NULL) {
		QRcode_free(q);
		return NULL;
	}
	side = q->width + 2 * QR_QUIET;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d "
	    "%d\" shape-rendering=\"crispEdges\"><rect width=\"%d\" "
	    "height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"", side,
	    side, side, side);
	for (y = 0; y < q->width; y++)
		for (x = 0; x < q->width; x++)
			if (qr_dark(q, x, y))
				fprintf(f, "M%d %dh1v1h-1z", x + QR_QUIET,
				    y + QR_QUIET);
	fprintf(f, "\"/></svg>");
	QRcode_free(q);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Two rows of modules per line: upper half, lower half, both, neither. */
int
qr_terminal(FILE *f, const char *text)
{
	static const char *const cell[4] = { "\u2588", "\u2580", "\u2584", " " };
	QRcode *q;
	int x, y, top, bottom;

	if ((q = qr_make(text)) == NULL)
		return -1;
	/* Light modules print as full blocks: dark on a light terminal
	 * would be the other way round, and readers need the light zone. */
	for (y = -QR_QUIET; y < q->width + QR_QUIET; y += 2) {
		for (x = -QR_QUIET; x < q->width + QR_QUIET; x++) {
			top = qr_dark(q, x, y);
			bottom = qr_dark(q, x, y + 1);
			fputs(cell[top << 1 | bottom], f);
		}
		fputc('\n', f);
	}
	QRcode_free(q);
	return ferror(f) ? -1 : 0;
}
