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
 *
 *   relay-sim FIRMWARE.elf PINLOG PLUG
 *
 * models the plug on the far side of the relays for the meter (protocol 2): PLUG is a text file,
 * re-read on SIGUSR2 (a test presses an inline button by rewriting it), of lines
 *     socket <k>          the audio relay that joins the plug to the TRRS bus
 *     swap <k>            (optional) the relay that swaps ring 2 and sleeve between bus and plug
 *     <A> <B> <ohms>      a resistor between two of the plug's contacts T R1 R2 S
 * and at each ADC conversion the harness solves the circuit the relays make (5 V, the meter's
 * reference resistors, sense and ground relays, relay contacts of 50 mR, the plug's resistors, the
 * ADC's 100 M input) and feeds ADC5 the sense node's voltage with 2 mV of noise.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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

#include <avr_adc.h>
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

/* Data-space addresses of PORTx and DDRx for B, C, D. */
static const uint16_t PORT_ADDR[3] = {0x25, 0x28, 0x2b};
static const uint16_t DDR_ADDR[3] = {0x24, 0x27, 0x2a};

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile sig_atomic_t want_plug;

static void on_signal(int sig) {
    if (sig == SIGUSR1) {
        want_reset = 1;
    } else if (sig == SIGUSR2) {
        want_plug = 1;
    } else {
        want_exit = 1;
    }
}

/* The plug on the far side of the relays (see the top). */
#define MAX_RESISTORS 32
static const char *plug_path;
static int plug_socket, plug_swap;
static int res_n;
static int res_a[MAX_RESISTORS], res_b[MAX_RESISTORS];
static double res_ohms[MAX_RESISTORS];

static int contact_index(const char *name) {
    static const char *const NAMES[4] = {"T", "R1", "R2", "S"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, NAMES[i])) return i;
    return -1;
}

static void load_plug(void) {
    if (!plug_path) return;
    FILE *f = fopen(plug_path, "r");
    if (!f) {
        perror(plug_path);
        return;
    }
    plug_socket = plug_swap = 0;
    res_n = 0;
    char line[128], a[8], b[8];
    double ohms;
    int k;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (sscanf(line, "socket %d", &k) == 1) {
            plug_socket = k;
        } else if (sscanf(line, "swap %d", &k) == 1) {
            plug_swap = k;
        } else if (sscanf(line, "%7s %7s %lf", a, b, &ohms) == 3 && res_n < MAX_RESISTORS) {
            int ia = contact_index(a), ib = contact_index(b);
            if (ia < 0 || ib < 0 || ia == ib || !(ohms > 0.0)) {
                fprintf(stderr, "relay-sim: %s: not a resistor: %s", plug_path, line);
                continue;
            }
            res_a[res_n] = ia;
            res_b[res_n] = ib;
            res_ohms[res_n] = ohms;
            res_n++;
        }
    }
    fclose(f);
}

/* Whether relay k (1-based) is closed: its pin an output driven high. */
static int relay_on(int k) {
    int port, b;
    if (k <= 6) {
        port = 2, b = k + 1; /* D2..D7 */
    } else if (k <= 11) {
        port = 0, b = k - 7; /* B0..B4 */
    } else {
        port = 1, b = k - 12; /* C0..C4 */
    }
    return (avr->data[PORT_ADDR[port]] & avr->data[DDR_ADDR[port]]) >> b & 1;
}

/* The circuit's nodes: the sense node, the bus's four wires, the plug's four contacts. */
#define NODES 9
#define VCC_MV 5000.0
#define CONTACT_R 0.05
#define LEAK_S 1e-8

static double G[NODES][NODES], I[NODES];

static void conductance(int a, int b, double ohms) { /* b < 0: to ground */
    double g = 1.0 / ohms;
    G[a][a] += g;
    if (b >= 0) {
        G[b][b] += g;
        G[a][b] -= g;
        G[b][a] -= g;
    }
}

static void from_vcc(int a, double ohms) {
    G[a][a] += 1.0 / ohms;
    I[a] += VCC_MV / ohms;
}

/* The sense node's voltage, mV, for the relays as they are. */
static double sense_mv(void) {
    memset(G, 0, sizeof G);
    memset(I, 0, sizeof I);
    for (int n = 0; n < NODES; n++) G[n][n] += LEAK_S;
    if (relay_on(7)) from_vcc(0, 100.0 + 0.5); /* the MOSFET's on-resistance */
    if (relay_on(8)) from_vcc(0, 10000.0 + 0.5);
    for (int c = 0; c < 4; c++) {
        if (relay_on(9 + c)) conductance(0, 1 + c, CONTACT_R);
        if (relay_on(13 + c)) conductance(1 + c, -1, CONTACT_R);
    }
    if (plug_socket && relay_on(plug_socket)) {
        int swapped = plug_swap && relay_on(plug_swap);
        for (int c = 0; c < 4; c++) {
            int to = swapped && c >= 2 ? 5 - c : c; /* R2 <-> S */
            conductance(1 + c, 5 + to, CONTACT_R);
        }
        for (int r = 0; r < res_n; r++) conductance(5 + res_a[r], 5 + res_b[r], res_ohms[r]);
    }
    /* Gaussian elimination with partial pivoting. */
    for (int col = 0; col < NODES; col++) {
        int piv = col;
        for (int r = col + 1; r < NODES; r++)
            if (fabs(G[r][col]) > fabs(G[piv][col])) piv = r;
        if (piv != col) {
            for (int c = 0; c < NODES; c++) {
                double t = G[col][c];
                G[col][c] = G[piv][c];
                G[piv][c] = t;
            }
            double t = I[col];
            I[col] = I[piv];
            I[piv] = t;
        }
        for (int r = col + 1; r < NODES; r++) {
            double f = G[r][col] / G[col][col];
            for (int c = col; c < NODES; c++) G[r][c] -= f * G[col][c];
            I[r] -= f * I[col];
        }
    }
    double v[NODES];
    for (int r = NODES - 1; r >= 0; r--) {
        double acc = I[r];
        for (int c = r + 1; c < NODES; c++) acc -= G[r][c] * v[c];
        v[r] = acc / G[r][r];
    }
    return v[0];
}

/* Gaussian noise, mV (Box-Muller on a small LCG: reproducible, no libc state). */
static double noise_mv(double sigma) {
    static uint64_t s = 0x9e3779b97f4a7c15ULL;
    double u[2];
    for (int i = 0; i < 2; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        u[i] = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
    }
    return sigma * sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* At each conversion's start: the sense node's voltage on ADC5. */
static void adc_trigger(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq, (void)value, (void)param;
    double mv = sense_mv() + noise_mv(2.0);
    if (mv < 0.0) mv = 0.0;
    if (mv > VCC_MV) mv = VCC_MV;
    avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC5), (uint32_t)lround(mv));
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
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s FIRMWARE.elf [PINLOG [PLUG]]\n", argv[0]);
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
    avr->vcc = avr->avcc = avr->aref = (uint32_t)VCC_MV;
    if (argc == 4) {
        plug_path = argv[3];
        load_plug();
    }
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER), adc_trigger, NULL);
    if (argc >= 3) {
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
    sigaction(SIGUSR2, &sa, NULL);
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
            if (want_plug) {
                want_plug = 0;
                load_plug();
            }
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
