/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_output.h: whether a pass down a request's output filters can
 * block, so that the caller may keep the GIL across it.
 *
 * Every GIL release with other threads waiting costs a futex wake and
 * context switches, and a request that gives up the GIL mid-response
 * queues behind the others to get it back.  A pass that cannot block
 * is cheaper done holding the GIL.  Apache's core output filter blocks
 * only on a FLUSH bucket, past THRESHOLD_MAX_BUFFER (64 KiB) of
 * in-memory data, or past five pipelined responses (server/
 * core_filters.c); the filters before it may block for reasons of
 * their own (mod_ratelimit sleeps, mod_ext_filter writes to a pipe,
 * an HTTP/2 stream waits for its window), so only chains made of
 * filters known to do nothing but compute and pass on qualify.
 */
#ifndef APWSGI_OUTPUT_H
#define APWSGI_OUTPUT_H

#include "apwsgi.h"

/* Look up the filters known not to block.  At child init, before any
 * request; no GIL needed. */
void apwsgi_output_init(void);

/*
 * Whether passing `bb` (no FLUSH bucket in it) down r's output filters
 * cannot block: r's connection is no HTTP/2 stream, the core output
 * filter holds nothing set aside, `bb` and the headers still to go
 * (when they have not gone yet) are well under the core filter's
 * threshold, and every filter in the chain is one of the known ones.
 * No GIL needed; reads r, touches nothing.
 */
int apwsgi_output_cannot_block(request_rec *r, apr_bucket_brigade *bb);

#endif /* APWSGI_OUTPUT_H */
