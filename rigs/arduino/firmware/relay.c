/*
 * jackbench relay board firmware: an ATmega328P (Arduino Uno, 16 MHz) drives up to 16 relays
 * that route the four TRRS contacts of a headset bench, over a line protocol on the UART
 * (115200 baud, 8N1, lines end in '\n'). See ../README.md for the wiring and the protocol.
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
#define FW_VERSION "1.0.0"
#define PROTOCOL 1
#define RELAYS 16
#define LINE_MAX 64
#define SETTLE_DEFAULT_MS 20
#define SETTLE_MAX_MS 1000
#define IDLE_MAX_S 3600

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

static void identify(const char *prefix) {
    uart_puts(prefix);
    uart_puts(" " NAME " " FW_VERSION " proto=");
    uart_putdec(PROTOCOL);
    uart_puts(" relays=");
    uart_putdec(RELAYS);
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
        } else {
            route((uint16_t)a);
            reply_state();
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
        reply_error("unknown-command", "use ID STATE SET ROUTE OFF SETTLE IDLE");
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
