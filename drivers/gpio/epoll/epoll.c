/*
 * The `epoll` add-on that onoff needs to see GPIO edges, written against Node-API, so that one build
 * per architecture loads on every Node the packages accept (18, 20, 22…). The npm package `epoll`
 * is built with nan against one Node's V8: a build made for Node 20 is refused by Debian 12's Node 18
 * ("compiled against a different Node.js version"). Same JavaScript API as `epoll` 4:
 *
 *   const poller = new Epoll((err, fd, events) => …);
 *   poller.add(fd, Epoll.EPOLLPRI); poller.modify(fd, events); poller.remove(fd); poller.close();
 *   poller.closed; Epoll.EPOLLIN … Epoll.EPOLLONESHOT
 *
 * Each poller has an epoll descriptor and, once something is added, a thread blocked in epoll_wait
 * that hands each event to the JavaScript thread through a thread-safe function, and waits until the
 * callback has run before it waits again (as the npm package does): epoll is level-triggered, and a
 * GPIO's interrupt is cleared by the read the callback makes. A pipe wakes the thread when the poller
 * closes; the thread then closes the descriptors and releases the function, whose finalizer frees
 * the poller. While it watches a descriptor the poller keeps the event loop alive.
 *
 * Built by images/build.mjs with each architecture's cross compiler:
 *   gcc -shared -fPIC -O2 -I/usr/include/node epoll.c -o epoll.node -lpthread
 */
#define NAPI_VERSION 4
#include <node_api.h>

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct {
  int epfd;
  int wake[2];         /* a pipe: written to stop the thread */
  int watching;        /* descriptors added and not removed */
  int closed;          /* set on the JavaScript thread, read by the waiting one */
  int thread_started;
  sem_t handled;       /* posted once the callback has run for the event the thread handed over */
  pthread_t thread;
  napi_threadsafe_function tsfn;
} Poller;

typedef struct {
  int fd;
  uint32_t events;
  int error; /* an errno from epoll_wait, or 0 */
} Event;

#define CHECK(env, call)                                       \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      napi_throw_error((env), NULL, "epoll: " #call " failed"); \
      return NULL;                                             \
    }                                                          \
  } while (0)

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, message, error;
  napi_create_string_utf8(env, err == EEXIST ? "EEXIST" : err == ENOENT ? "ENOENT" : err == EBADF ? "EBADF" : err == EPERM ? "EPERM" : "EIO", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_throw(env, error);
  return NULL;
}

/* on the JavaScript thread: callback(err, fd, events), then the waiting thread may go on */
static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  Poller *p = context;
  Event *ev = data;
  if (env != NULL && callback != NULL && !__atomic_load_n(&p->closed, __ATOMIC_SEQ_CST)) {
    napi_value argv[3], undefined;
    napi_get_undefined(env, &undefined);
    if (ev->error) {
      napi_value message;
      napi_create_string_utf8(env, strerror(ev->error), NAPI_AUTO_LENGTH, &message);
      napi_create_error(env, NULL, message, &argv[0]);
    } else {
      napi_get_null(env, &argv[0]);
    }
    napi_create_int32(env, ev->fd, &argv[1]);
    napi_create_uint32(env, ev->events, &argv[2]);
    napi_call_function(env, undefined, callback, 3, argv, NULL);
  }
  free(ev);
  sem_post(&p->handled);
}

/* hands an event over and waits until its callback has run (or the poller closes) */
static void hand_over(Poller *p, Event *ev) {
  if (napi_call_threadsafe_function(p->tsfn, ev, napi_tsfn_blocking) != napi_ok) {
    free(ev);
    return;
  }
  while (sem_wait(&p->handled) != 0 && errno == EINTR) {
  }
}

static void *wait_loop(void *arg) {
  Poller *p = arg;
  struct epoll_event evs[8];
  while (!__atomic_load_n(&p->closed, __ATOMIC_SEQ_CST)) {
    int n = epoll_wait(p->epfd, evs, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Event *ev = calloc(1, sizeof *ev);
      if (ev) {
        ev->fd = -1;
        ev->error = errno;
        hand_over(p, ev);
      }
      break;
    }
    for (int i = 0; i < n && !__atomic_load_n(&p->closed, __ATOMIC_SEQ_CST); i++) {
      if (evs[i].data.fd == p->wake[0]) break;
      Event *ev = calloc(1, sizeof *ev);
      if (!ev) continue;
      ev->fd = evs[i].data.fd;
      ev->events = evs[i].events;
      hand_over(p, ev);
    }
  }
  close(p->wake[0]);
  close(p->wake[1]);
  close(p->epfd);
  napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
  return NULL;
}

/* the poller is freed when its function is, after the thread (if any) let go of it */
static void free_poller(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Poller *p = data;
  sem_destroy(&p->handled);
  free(p);
}

/* never waits for the thread: a callback may close its own poller */
static void stop(Poller *p) {
  if (p->closed) return;
  __atomic_store_n(&p->closed, 1, __ATOMIC_SEQ_CST);
  if (p->thread_started) {
    ssize_t ignored = write(p->wake[1], "x", 1);
    (void)ignored;
    sem_post(&p->handled); /* in case it waits for a callback that will not run now */
    return;
  }
  close(p->wake[0]);
  close(p->wake[1]);
  close(p->epfd);
  napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  stop(data);
}

static Poller *self(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, napi_value *this_arg) {
  void *p = NULL;
  if (napi_get_cb_info(env, info, argc, argv, this_arg, NULL) != napi_ok || napi_unwrap(env, *this_arg, &p) != napi_ok || p == NULL) {
    napi_throw_error(env, NULL, "epoll: not an Epoll");
    return NULL;
  }
  return p;
}

static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], this_arg;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &this_arg, NULL));
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "Epoll: the first argument must be a callback function");
    return NULL;
  }
  Poller *p = calloc(1, sizeof *p);
  if (!p) return throw_errno(env, "calloc", ENOMEM);
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (p->epfd < 0) {
    int e = errno;
    free(p);
    return throw_errno(env, "epoll_create1", e);
  }
  if (pipe(p->wake) != 0) {
    int e = errno;
    close(p->epfd);
    free(p);
    return throw_errno(env, "pipe", e);
  }
  struct epoll_event wake = {.events = EPOLLIN, .data.fd = p->wake[0]};
  epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wake[0], &wake);
  napi_value name;
  napi_create_string_utf8(env, "epoll", NAPI_AUTO_LENGTH, &name);
  sem_init(&p->handled, 0, 0);
  CHECK(env, napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, p, free_poller, p, call_js, &p->tsfn));
  /* idle until something is watched */
  napi_unref_threadsafe_function(env, p->tsfn);
  CHECK(env, napi_wrap(env, this_arg, p, finalize, NULL, NULL));
  return this_arg;
}

static napi_value control(napi_env env, napi_callback_info info, int op) {
  size_t argc = 2;
  napi_value argv[2], this_arg;
  Poller *p = self(env, info, &argc, argv, &this_arg);
  if (!p) return NULL;
  if (p->closed) {
    napi_throw_error(env, NULL, "Epoll: the poller is closed");
    return NULL;
  }
  int32_t fd = -1, events = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "Epoll: fd must be a number");
    return NULL;
  }
  if (op != EPOLL_CTL_DEL && (argc < 2 || napi_get_value_int32(env, argv[1], &events) != napi_ok)) {
    napi_throw_type_error(env, NULL, "Epoll: events must be a number");
    return NULL;
  }
  struct epoll_event ev = {.events = (uint32_t)events, .data.fd = fd};
  if (epoll_ctl(p->epfd, op, fd, &ev) != 0) return throw_errno(env, "epoll_ctl", errno);
  if (op == EPOLL_CTL_ADD) {
    if (p->watching++ == 0) napi_ref_threadsafe_function(env, p->tsfn);
    if (!p->thread_started) {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setstacksize(&attr, 64 * 1024); /* it only waits */
      int e = pthread_create(&p->thread, &attr, wait_loop, p);
      pthread_attr_destroy(&attr);
      if (e != 0) return throw_errno(env, "pthread_create", e);
      pthread_detach(p->thread);
      p->thread_started = 1;
    }
  } else if (op == EPOLL_CTL_DEL && p->watching > 0) {
    if (--p->watching == 0) napi_unref_threadsafe_function(env, p->tsfn);
  }
  return this_arg;
}

static napi_value add(napi_env env, napi_callback_info info) { return control(env, info, EPOLL_CTL_ADD); }
static napi_value modify(napi_env env, napi_callback_info info) { return control(env, info, EPOLL_CTL_MOD); }
static napi_value remove_fd(napi_env env, napi_callback_info info) { return control(env, info, EPOLL_CTL_DEL); }

static napi_value close_poller(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value this_arg;
  Poller *p = self(env, info, &argc, NULL, &this_arg);
  if (!p) return NULL;
  stop(p);
  return this_arg;
}

static napi_value is_closed(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value this_arg, out;
  Poller *p = self(env, info, &argc, NULL, &this_arg);
  if (!p) return NULL;
  napi_get_boolean(env, p->closed != 0, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  static const struct { const char *name; uint32_t value; } flags[] = {
      {"EPOLLIN", EPOLLIN}, {"EPOLLOUT", EPOLLOUT}, {"EPOLLRDHUP", EPOLLRDHUP}, {"EPOLLPRI", EPOLLPRI},
      {"EPOLLERR", EPOLLERR}, {"EPOLLHUP", EPOLLHUP}, {"EPOLLET", EPOLLET}, {"EPOLLONESHOT", EPOLLONESHOT},
  };
  napi_value values[8];
  napi_property_descriptor props[4 + 1 + 8] = {
      {"add", NULL, add, NULL, NULL, NULL, napi_default, NULL},
      {"modify", NULL, modify, NULL, NULL, NULL, napi_default, NULL},
      {"remove", NULL, remove_fd, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_poller, NULL, NULL, NULL, napi_default, NULL},
      {"closed", NULL, NULL, is_closed, NULL, NULL, napi_default, NULL},
  };
  for (int i = 0; i < 8; i++) {
    /* as the npm package has them: EPOLLET is negative on 32-bit ARM there, an int32 here too */
    napi_create_int32(env, (int32_t)flags[i].value, &values[i]);
    props[5 + i] = (napi_property_descriptor){flags[i].name, NULL, NULL, NULL, NULL, values[i], napi_static | napi_enumerable, NULL};
  }
  napi_value cls;
  CHECK(env, napi_define_class(env, "Epoll", NAPI_AUTO_LENGTH, construct, NULL, 13, props, &cls));
  CHECK(env, napi_set_named_property(env, exports, "Epoll", cls));
  return exports;
}

NAPI_MODULE(epoll, init)
