/* SPDX-License-Identifier: Apache-2.0 */
/* What every YAML reader of podlane shares on top of libyaml's event API: the next event, with
 * syntax errors turned into one-line messages and anchors/aliases refused (they are not needed
 * in configuration or Kubernetes objects, and refusing them rules out alias bombs). Used by the
 * config parser (pl_config.c) and the Kubernetes object parser (pl_k8s.c). */
#ifndef PL_YAML_H
#define PL_YAML_H

#include <stddef.h>

#include <yaml.h>

/* 0 with *ev to be deleted by the caller; -ENOMEM; or -EINVAL with the reason in msg and its
 * 1-based line in *line (0 when no line applies). On failure there is no event to delete. */
int pl_yaml_next_event(
	yaml_parser_t *p, yaml_event_t *ev, char *msg, size_t msg_size, size_t *line);

#endif
