/*
 * relay-sim: runs the relay firmware in simavr (ATmega328P, 16 MHz) at the wall clock's pace, with
 * its UART on a pseudo-terminal, so the same serial code that talks to a real board talks to it.
 *
 *   relay-sim FIRMWARE.elf [PINLOG]
 *
 * Prints "PTY <path>" on standard output once the board runs; open that path at any baud rate.
 * Every change of what a pin drives (ports B, C and D; PD0/PD1 are the UART) is appended to PINLOG
 * as "<simulated µs> <port><bit> <0|1>": 1 when the pin is an output driven high, which is what
 * switches a relay driver; so a test sees the order and timing of the contacts, resets included.
 * SIGUSR1 resets the board as its reset line would (EXTRF set); SIGSTOP pauses it (the board
 * stops answering); SIGTERM ends it.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <avr_extint.h>
#include <avr_uart.h>
#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_irq.h>

#define MCU "atmega328p"
#define FREQ 16000000UL
#define MCUSR_ADDR 0x54
#define EXTRF_BIT 1

static avr_t *avr;
static int master = -1;
static FILE *pinlog;
static volatile sig_atomic_t want_reset, want_exit;
static int uart_ready = 1;
static uint8_t pending[256];
static size_t pending_len, pending_at;
static int last_pin[3][8];
static double epoch;

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_signal(int sig) {
    if (sig == SIGUSR1) {
        want_reset = 1;
    } else {
        want_exit = 1;
    }
}

static void uart_out(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    uint8_t b = (uint8_t)value;
    /* Nobody reading and the pty full: the byte is lost, as on a wire. */
    if (write(master, &b, 1) < 0 && errno != EAGAIN) perror("relay-sim: pty write");
}

static void uart_xon(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq, (void)value, (void)param;
    uart_ready = 1;
}

static void uart_xoff(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq, (void)value, (void)param;
    uart_ready = 0;
}

/* Data-space addresses of PORTx and DDRx for B, C, D. */
static const uint16_t PORT_ADDR[3] = {0x25, 0x28, 0x2b};
static const uint16_t DDR_ADDR[3] = {0x24, 0x27, 0x2a};

/* Logs every pin that changed what it drives: a relay driver sees a pin only when it is an
 * output (DDR) driven high (PORT); a reset makes every pin an input, which the log shows too. */
static void scan_pins(void) {
    for (int p = 0; p < 3; p++) {
        uint8_t drive = avr->data[PORT_ADDR[p]] & avr->data[DDR_ADDR[p]];
        for (int b = 0; b < 8; b++) {
            if (p == 2 && b < 2) continue; /* PD0, PD1: the UART */
            int v = (drive >> b) & 1;
            if (last_pin[p][b] == v) continue;
            last_pin[p][b] = v;
            if (pinlog) {
                unsigned long long us = (unsigned long long)(avr->cycle / (FREQ / 1000000UL));
                fprintf(pinlog, "%llu %c%d %d\n", us, "BCD"[p], b, v);
                fflush(pinlog);
            }
        }
    }
}

/* Settings simavr forgets when the chip resets. */
static void configure(void) {
    uint32_t flags = 0;
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    flags &= ~(uint32_t)(AVR_UART_FLAG_STDIO | AVR_UART_FLAG_POLL_SLEEP);
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    /* Relay pins on INT0/INT1 (PD2, PD3) held low would slow the simulation sevenfold. */
    avr_extint_set_strict_lvl_trig(avr, 0, 0);
    avr_extint_set_strict_lvl_trig(avr, 1, 0);
}

/* Feeds bytes from the pty into the UART while it takes them. */
static void pump(void) {
    if (pending_at == pending_len) {
        ssize_t n = read(master, pending, sizeof pending);
        if (n <= 0) return;
        pending_len = (size_t)n;
        pending_at = 0;
    }
    avr_irq_t *in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    while (uart_ready && pending_at < pending_len) avr_raise_irq(in, pending[pending_at++]);
}

/* Keeps simulated time with the wall clock: waits (for input, at most) while ahead, and does not
 * race to catch up after a pause. */
static void pace(void) {
    double sim = (double)avr->cycle / (double)FREQ;
    double now = wall();
    if (now - epoch - sim > 0.05) epoch = now - sim;
    double ahead = sim - (now - epoch);
    if (ahead > 0.0002) {
        struct pollfd p = {.fd = master, .events = POLLIN};
        int ms = (int)(ahead * 1000.0);
        if (poll(&p, 1, ms) < 0 && errno != EINTR) perror("relay-sim: poll");
    }
}

static void sleep_hook(avr_t *a, avr_cycle_count_t how_long) {
    (void)a, (void)how_long; /* pace() does the waiting */
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s FIRMWARE.elf [PINLOG]\n", argv[0]);
        return 2;
    }
    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(argv[1], &fw) != 0) {
        fprintf(stderr, "relay-sim: %s: cannot read the firmware\n", argv[1]);
        return 2;
    }
    strcpy(fw.mmcu, MCU);
    fw.frequency = FREQ;
    avr = avr_make_mcu_by_name(fw.mmcu);
    if (!avr) {
        fprintf(stderr, "relay-sim: simavr does not know %s\n", MCU);
        return 2;
    }
    avr_init(avr);
    avr->log = 0;
    avr_load_firmware(avr, &fw);
    avr->sleep = sleep_hook;
    configure();
    if (argc == 3) {
        pinlog = fopen(argv[2], "a");
        if (!pinlog) {
            perror(argv[2]);
            return 2;
        }
    }

    int slave;
    char name[256];
    struct termios raw;
    if (openpty(&master, &slave, name, NULL, NULL) != 0) {
        perror("relay-sim: openpty");
        return 2;
    }
    tcgetattr(slave, &raw);
    cfmakeraw(&raw);
    tcsetattr(slave, TCSANOW, &raw);
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);

    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_out, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), uart_xon, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), uart_xoff, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("PTY %s\n", name);
    fflush(stdout);
    epoch = wall();
    unsigned long steps = 0;
    for (;;) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "relay-sim: the firmware stopped (state %d)\n", state);
            return 1;
        }
        if (++steps % 64 == 0 || state == cpu_Sleeping) scan_pins();
        if (steps % 512 == 0 || state == cpu_Sleeping) {
            if (want_exit) break;
            if (want_reset) {
                want_reset = 0;
                avr_reset(avr);
                avr->data[MCUSR_ADDR] |= (1 << EXTRF_BIT);
                configure();
            }
            pump();
            pace();
        }
    }
    if (pinlog) fclose(pinlog);
    close(slave);
    close(master);
    return 0;
}
