/*
 * jackbench relay board firmware: an ATmega328P (Arduino Uno, 16 MHz) drives up to 16 relays
 * that route the four TRRS contacts of a headset bench, over a line protocol on the UART
 * (115200 baud, 8N1, lines end in '\n'). See ../README.md for the wiring and the protocol.
 *
 * Protocol 2 adds a meter: relays 7..16 are its switches (7, 8 the reference resistors' MOSFETs,
 * 9..12 sense and 13..16 ground on the TRRS bus's tip, ring 1, ring 2, sleeve) and ADC5 (A5) reads
 * the divider, so MEASURE gives the DC resistance between two contacts of the plug on the bus.
 * The meter and the audio ports are never on the bus at once: MEASURE opens every audio relay but
 * the plug's socket first (break-before-make), and puts the route back after.
 *
 * Safe by default: every relay pin is an input (relay off) from reset until a command closes it;
 * the watchdog resets the board, relays off, if the main loop stops running; an optional idle
 * timeout opens every relay when no command came for a while. Routes change break-before-make:
 * the relays to open open first, then, after the settle time, the new ones close.
 *
 * Plain C on avr-libc, no Arduino core. Build: make (in ../); flash: make flash PORT=/dev/ttyACM0.
 */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <stdint.h>
#include <string.h>

#ifndef F_CPU
#define F_CPU 16000000UL
#endif
#define BAUD 115200
#define BAUD_TOL 3 /* 115200 at 16 MHz with U2X is 2.1 % off, within a UART's tolerance */
#include <util/setbaud.h>

#define NAME "jackbench-relay"
#define FW_VERSION "2.0.0"
#define PROTOCOL 2
#define RELAYS 16
#define LINE_MAX 64
#define SETTLE_DEFAULT_MS 20
#define SETTLE_MAX_MS 1000
#define IDLE_MAX_S 3600

/* The meter (protocol 2). Relays 1..6 route audio; 7..16 are the meter's. */
#define AUDIO_MASK 0x003fu
#define METER_MASK 0xffc0u
#define RANGE_LO_RELAY 7  /* 100 R from 5 V to the sense node, through a P-MOSFET */
#define RANGE_HI_RELAY 8  /* 10 k from 5 V to the sense node, through a P-MOSFET */
#define SENSE_RELAY 9     /* 9..12: the sense node to T, R1, R2, S */
#define GROUND_RELAY 13   /* 13..16: T, R1, R2, S to ground */
#define RANGE_LO_MOHM 100000UL
#define RANGE_HI_MOHM 10000000UL
#define OVERSAMPLE 64     /* ADC readings summed per measurement: 64 x 10 bits = 16 bits */
#define FULL_SCALE (OVERSAMPLE * 1024UL)
/* The low range reads below 0.9 of full scale (about 900 R); above it, the high range. */
#define LO_LIMIT (FULL_SCALE * 9UL / 10UL)
#define SHORT_MOHM 2000UL       /* below 2 R: a short */
#define OPEN_MOHM 200000000UL   /* above 200 k: open */
static const char *const CONTACTS[4] = {"T", "R1", "R2", "S"};

/* Relay k (1-based) is on port pin RELAY_PINS[k-1]: D2..D7, D8..D12, A0..A4. D13 is the LED. */
typedef struct {
    volatile uint8_t *ddr;
    volatile uint8_t *port;
    uint8_t bit;
} pin_t;

static const pin_t RELAY_PINS[RELAYS] = {
    {&DDRD, &PORTD, 2}, {&DDRD, &PORTD, 3}, {&DDRD, &PORTD, 4}, {&DDRD, &PORTD, 5},
    {&DDRD, &PORTD, 6}, {&DDRD, &PORTD, 7}, {&DDRB, &PORTB, 0}, {&DDRB, &PORTB, 1},
    {&DDRB, &PORTB, 2}, {&DDRB, &PORTB, 3}, {&DDRB, &PORTB, 4}, {&DDRC, &PORTC, 0},
    {&DDRC, &PORTC, 1}, {&DDRC, &PORTC, 2}, {&DDRC, &PORTC, 3}, {&DDRC, &PORTC, 4},
};

/* Relay modules with opto-couplers switch on a low input: build with -DACTIVE_LOW for those. */
#ifdef ACTIVE_LOW
#define PIN_ON(p) (*(p).port &= (uint8_t)~(1 << (p).bit))
#define PIN_OFF(p) (*(p).port |= (uint8_t)(1 << (p).bit))
#else
#define PIN_ON(p) (*(p).port |= (uint8_t)(1 << (p).bit))
#define PIN_OFF(p) (*(p).port &= (uint8_t)~(1 << (p).bit))
#endif

static uint16_t relays;          /* bit k-1 set: relay k closed */
static uint16_t settle_ms = SETTLE_DEFAULT_MS;
static uint16_t idle_s;          /* 0: never open on idle */
static volatile uint32_t now_ms; /* Timer0 tick */
static uint32_t last_command_ms;

/* Received bytes, filled by the UART interrupt. */
#define RX_SIZE 128
static volatile uint8_t rx_buf[RX_SIZE];
static volatile uint8_t rx_head, rx_tail;

/* The reset cause, read before anything clears it. */
static uint8_t reset_flags __attribute__((section(".noinit")));

void early_init(void) __attribute__((naked, used, section(".init3")));
void early_init(void) {
    reset_flags = MCUSR;
    MCUSR = 0;
    wdt_disable();
}

ISR(USART_RX_vect) {
    uint8_t c = UDR0;
    uint8_t next = (uint8_t)((rx_head + 1) % RX_SIZE);
    if (next != rx_tail) {
        rx_buf[rx_head] = c;
        rx_head = next;
    }
}

ISR(TIMER0_COMPA_vect) { now_ms++; }

static uint32_t millis(void) {
    uint32_t t;
    cli();
    t = now_ms;
    sei();
    return t;
}

static void uart_putc(char c) {
    while (!(UCSR0A & (1 << UDRE0))) {
    }
    UDR0 = (uint8_t)c;
}

static void uart_puts(const char *s) {
    while (*s) uart_putc(*s++);
}

static void uart_putdec(uint32_t v) {
    char digits[11];
    uint8_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < sizeof digits);
    while (n) uart_putc(digits[--n]);
}

static void uart_puthex16(uint16_t v) {
    static const char HEX[] = "0123456789abcdef";
    uart_puts("0x");
    for (int8_t shift = 12; shift >= 0; shift -= 4) uart_putc(HEX[(v >> shift) & 0xf]);
}

/* Waits `ms` milliseconds on the timer, feeding the watchdog. */
static void wait_ms(uint16_t ms) {
    uint32_t until = millis() + ms;
    while ((int32_t)(millis() - until) < 0) {
        wdt_reset();
        sleep_mode();
    }
}

static void drive(uint16_t state) {
    for (uint8_t k = 0; k < RELAYS; k++) {
        if (state & (1u << k)) {
            PIN_ON(RELAY_PINS[k]);
        } else {
            PIN_OFF(RELAY_PINS[k]);
        }
        *RELAY_PINS[k].ddr |= (uint8_t)(1 << RELAY_PINS[k].bit);
    }
    relays = state;
}

/* Break before make: open what the new route does not keep, settle, close what it adds, settle. */
static void route(uint16_t want) {
    uint16_t keep = relays & want;
    if (relays != keep) {
        drive(keep);
        wait_ms(settle_ms);
    }
    if (want != keep) {
        drive(want);
        wait_ms(settle_ms);
    }
}

static void all_off(void) { drive(0); }

static void reply_state(void) {
    uart_puts("OK ");
    uart_puthex16(relays);
    uart_puts("\n");
}

static void reply_error(const char *code, const char *text) {
    uart_puts("ERR ");
    uart_puts(code);
    uart_puts(" ");
    uart_puts(text);
    uart_puts("\n");
}

/* One reading: the sum of OVERSAMPLE conversions of ADC5 against AVCC. */
static uint32_t adc_sum(void) {
    uint32_t sum = 0;
    for (uint8_t i = 0; i < OVERSAMPLE; i++) {
        ADCSRA |= (1 << ADSC);
        while (ADCSRA & (1 << ADSC)) {
        }
        sum += ADC;
    }
    wdt_reset();
    return sum;
}

/* The resistance of a reading against the reference `ref_mohm`: R = Rref * code / (full - code),
 * in milliohms; UINT32_MAX when the reading is at full scale. */
static uint32_t resistance_mohm(uint32_t code, uint32_t ref_mohm) {
    if (code >= FULL_SCALE) return UINT32_MAX;
    uint64_t r = (uint64_t)ref_mohm * code / (FULL_SCALE - code);
    return r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

static uint16_t bit(uint8_t relay) { return (uint16_t)(1u << (relay - 1)); }

/* Changes only the meter's relays, make-before-break is harmless inside the meter (nothing but the
 * meter drives the bus), so one settle time; the range MOSFETs need none. */
static void meter_drive(uint16_t meter, uint8_t relays_moved) {
    drive((uint16_t)((relays & AUDIO_MASK) | meter));
    if (relays_moved) wait_ms(settle_ms);
}

/* Measures contact a to contact b (0..3), the meter already on the bus with the plug. Prints
 * "<A>-<B> <ohms>|OPEN|SHORT". */
static void measure_pair(uint8_t a, uint8_t b) {
    uint16_t pair = (uint16_t)(bit((uint8_t)(SENSE_RELAY + a)) | bit((uint8_t)(GROUND_RELAY + b)));
    meter_drive((uint16_t)(pair | bit(RANGE_LO_RELAY)), (relays & METER_MASK & ~(bit(RANGE_LO_RELAY) | bit(RANGE_HI_RELAY))) != pair);
    uint32_t code = adc_sum();
    uint32_t mohm;
    if (code < LO_LIMIT) {
        mohm = resistance_mohm(code, RANGE_LO_MOHM);
    } else {
        meter_drive((uint16_t)(pair | bit(RANGE_HI_RELAY)), 0);
        mohm = resistance_mohm(adc_sum(), RANGE_HI_MOHM);
    }
    uart_puts(CONTACTS[a]);
    uart_putc('-');
    uart_puts(CONTACTS[b]);
    uart_putc(' ');
    if (mohm < SHORT_MOHM) {
        uart_puts("SHORT");
    } else if (mohm > OPEN_MOHM) {
        uart_puts("OPEN");
    } else {
        uart_putdec(mohm / 1000UL);
        uart_putc('.');
        uint32_t frac = (mohm % 1000UL) / 10UL;
        uart_putc((char)('0' + frac / 10));
        uart_putc((char)('0' + frac % 10));
    }
}

/* MEASURE: the route kept aside, every audio relay but the plug's socket opened, the meter on;
 * the pairs measured; the meter off and the route put back, each step break-before-make. */
static void measure(int8_t a, int8_t b, uint16_t socket) {
    uint16_t saved = relays;
    route(socket);
    uart_puts("OK");
    for (uint8_t i = 0; i < 4; i++) {
        for (uint8_t j = (uint8_t)(i + 1); j < 4; j++) {
            if (a >= 0 && !((a == i && b == j) || (a == j && b == i))) continue;
            uint8_t from = a >= 0 ? (uint8_t)a : i, to = a >= 0 ? (uint8_t)b : j;
            uart_putc(' ');
            measure_pair(from, to);
        }
    }
    uart_puts("\n");
    drive(socket); /* the meter off: its MOSFETs and relays open together */
    wait_ms(settle_ms);
    route(saved);
}

static int8_t contact(const char *name) {
    for (uint8_t i = 0; i < 4; i++)
        if (!strcmp(name, CONTACTS[i])) return (int8_t)i;
    return -1;
}

static void identify(const char *prefix) {
    uart_puts(prefix);
    uart_puts(" " NAME " " FW_VERSION " proto=");
    uart_putdec(PROTOCOL);
    uart_puts(" relays=");
    uart_putdec(RELAYS);
    uart_puts(" meter=7-16");
}

/* Parses a decimal or 0x-hex number that fills the whole word. */
static uint8_t parse_number(const char *s, uint32_t *out) {
    uint32_t v = 0;
    uint8_t base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s) return 0;
    for (; *s; s++) {
        uint8_t d;
        if (*s >= '0' && *s <= '9') {
            d = (uint8_t)(*s - '0');
        } else if (base == 16 && *s >= 'a' && *s <= 'f') {
            d = (uint8_t)(*s - 'a' + 10);
        } else if (base == 16 && *s >= 'A' && *s <= 'F') {
            d = (uint8_t)(*s - 'A' + 10);
        } else {
            return 0;
        }
        if (d >= base || v > 0x0fffffffUL) return 0;
        v = v * base + d;
    }
    *out = v;
    return 1;
}

/* Splits `line` into at most `max` space-separated words, in place. */
static uint8_t split(char *line, char **words, uint8_t max) {
    uint8_t n = 0;
    char *p = line;
    while (*p && n < max + 1) {
        while (*p == ' ' || *p == '\t') *p++ = 0;
        if (!*p) break;
        if (n == max) return (uint8_t)(max + 1);
        words[n++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
    }
    return n;
}

static void upcase(char *s) {
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z') *s = (char)(*s - 'a' + 'A');
}

static void command(char *line) {
    char *w[4];
    uint8_t n = split(line, w, 3);
    uint32_t a, b;
    if (n == 0) return; /* an empty line is nothing to answer */
    last_command_ms = millis();
    if (n > 3) {
        reply_error("bad-argument", "too many words");
        return;
    }
    upcase(w[0]);
    if (!strcmp(w[0], "ID") && n == 1) {
        identify("OK");
        uart_puts("\n");
    } else if (!strcmp(w[0], "STATE") && n == 1) {
        reply_state();
    } else if (!strcmp(w[0], "OFF") && n == 1) {
        all_off();
        reply_state();
    } else if (!strcmp(w[0], "SET") && n == 3) {
        if (!parse_number(w[1], &a) || !parse_number(w[2], &b) || b > 1) {
            reply_error("bad-argument", "SET <relay 1..16> <0|1>");
        } else if (a < 1 || a > RELAYS) {
            reply_error("range", "relay out of range (1..16)");
        } else if (bit((uint8_t)a) & METER_MASK) {
            reply_error("range", "relays 7..16 are the meter's (MEASURE)");
        } else {
            uint16_t bit = (uint16_t)(1u << (a - 1));
            route(b ? (uint16_t)(relays | bit) : (uint16_t)(relays & (uint16_t)~bit));
            reply_state();
        }
    } else if (!strcmp(w[0], "ROUTE") && n == 2) {
        if (!parse_number(w[1], &a)) {
            reply_error("bad-argument", "ROUTE <mask, e.g. 0x0013>");
        } else if (a > 0xffffUL) {
            reply_error("range", "mask names relays beyond 16");
        } else if (a & METER_MASK) {
            reply_error("range", "relays 7..16 are the meter's (MEASURE)");
        } else {
            route((uint16_t)a);
            reply_state();
        }
    } else if (!strcmp(w[0], "MEASURE") && n == 3) {
        /* MEASURE <A-B | ALL> <socket mask>: A-B two of T R1 R2 S. */
        int8_t ca = -1, cb = -1;
        upcase(w[1]);
        char *dash = strchr(w[1], '-');
        if (dash) {
            *dash = 0;
            ca = contact(w[1]);
            cb = contact(dash + 1);
        }
        if (!parse_number(w[2], &b) || (strcmp(w[1], "ALL") && (ca < 0 || cb < 0 || ca == cb))) {
            reply_error("bad-argument", "MEASURE <T-S | ALL> <socket mask>; contacts T R1 R2 S");
        } else if (b > 0xffffUL || (b & ~(uint32_t)AUDIO_MASK) || !b) {
            reply_error("range", "the socket mask names audio relays (1..6) only");
        } else {
            measure(ca, cb, (uint16_t)b);
        }
    } else if (!strcmp(w[0], "SETTLE") && n == 2) {
        if (!parse_number(w[1], &a) || a > SETTLE_MAX_MS) {
            reply_error("range", "SETTLE <ms 0..1000>");
        } else {
            settle_ms = (uint16_t)a;
            uart_puts("OK settle=");
            uart_putdec(settle_ms);
            uart_puts("\n");
        }
    } else if (!strcmp(w[0], "IDLE") && n == 2) {
        if (!parse_number(w[1], &a) || a > IDLE_MAX_S) {
            reply_error("range", "IDLE <s 0..3600, 0 = never>");
        } else {
            idle_s = (uint16_t)a;
            uart_puts("OK idle=");
            uart_putdec(idle_s);
            uart_puts("\n");
        }
    } else if (!strcmp(w[0], "TEST") && n == 2 && !strcmp(w[1], "WATCHDOG")) {
        /* Proves the watchdog on a real board: hang here; it resets us with every relay open. */
        uart_puts("OK hanging\n");
        while (UCSR0B & (1 << TXEN0) && !(UCSR0A & (1 << TXC0))) {
        }
        cli();
        for (;;) {
        }
    } else {
        reply_error("unknown-command", "use ID STATE SET ROUTE OFF SETTLE IDLE MEASURE");
    }
}

int main(void) {
    /* Reset state: every relay pin an input with no pull-up, i.e. off (see drive()). */
    DDRB |= (1 << DDB5); /* the LED */
    UBRR0H = UBRRH_VALUE;
    UBRR0L = UBRRL_VALUE;
#if USE_2X
    UCSR0A |= (1 << U2X0);
#else
    UCSR0A &= (uint8_t)~(1 << U2X0);
#endif
    UCSR0C = (1 << UCSZ01) | (1 << UCSZ00); /* 8N1 */
    UCSR0B = (1 << RXEN0) | (1 << TXEN0) | (1 << RXCIE0);
    TCCR0A = (1 << WGM01);                 /* CTC */
    TCCR0B = (1 << CS01) | (1 << CS00);    /* /64: 250 kHz */
    OCR0A = 249;                           /* 1 ms */
    TIMSK0 = (1 << OCIE0A);
    ADMUX = (1 << REFS0) | 5;                                       /* AVCC, ADC5 */
    ADCSRA = (1 << ADEN) | (1 << ADPS2) | (1 << ADPS1) | (1 << ADPS0); /* 125 kHz */
    DIDR0 = (1 << ADC5D);
    set_sleep_mode(SLEEP_MODE_IDLE);
    wdt_enable(WDTO_500MS);
    sei();

    identify("READY");
    uart_puts(" reset=");
    if (reset_flags & (1 << WDRF)) {
        uart_puts("watchdog");
    } else if (reset_flags & (1 << BORF)) {
        uart_puts("brownout");
    } else if (reset_flags & (1 << EXTRF)) {
        uart_puts("external");
    } else if (reset_flags & (1 << PORF)) {
        uart_puts("power-on");
    } else {
        uart_puts("unknown");
    }
    uart_puts("\n");

    char line[LINE_MAX + 1];
    uint8_t len = 0, overflow = 0;
    for (;;) {
        wdt_reset();
        while (rx_tail != rx_head) {
            char c = (char)rx_buf[rx_tail];
            rx_tail = (uint8_t)((rx_tail + 1) % RX_SIZE);
            if (c == '\r') continue;
            if (c == '\n') {
                line[len] = 0;
                if (overflow) {
                    reply_error("line-too-long", "lines are at most 64 characters");
                    last_command_ms = millis();
                } else {
                    PORTB |= (1 << PORTB5);
                    command(line);
                    PORTB &= (uint8_t)~(1 << PORTB5);
                }
                len = 0;
                overflow = 0;
            } else if (len < LINE_MAX) {
                line[len++] = c;
            } else {
                overflow = 1;
            }
        }
        if (idle_s && relays && (millis() - last_command_ms) >= (uint32_t)idle_s * 1000UL) {
            all_off();
            uart_puts("EVENT idle-off ");
            uart_puthex16(relays);
            uart_puts("\n");
        }
        cli();
        if (rx_tail == rx_head) {
            sleep_enable();
            sei();
            sleep_cpu();
            sleep_disable();
        }
        sei();
    }
}
