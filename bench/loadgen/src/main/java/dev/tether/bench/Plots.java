package dev.tether.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import javax.imageio.ImageIO;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.style.Styler;

/**
 * PNG charts of the medians (XChart, headless): throughput.png, latency.png, summary.png. Bars are medians
 * over the runs; on linear axes the error bars reach from the median to the farther of min and max (XChart
 * draws symmetric error bars), so min and max both lie within them.
 */
final class Plots {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final Map<String, Color> COLORS = Map.of(
            "tether", new Color(0x1f, 0x77, 0xb4),
            "mosquitto", new Color(0x2c, 0xa0, 0x2c),
            "hivemq", new Color(0xff, 0x7f, 0x0e));
    private static final Color OTHER = new Color(0x7f, 0x7f, 0x7f);

    private Plots() {
    }

    /** Writes the charts into dir; returns the files written. */
    static List<Path> write(Report.Model model, Path dir) throws IOException {
        Files.createDirectories(dir);
        List<Path> out = new ArrayList<>();
        int runs = model.maxRuns();
        String of = "median of " + runs + " run" + (runs == 1 ? "" : "s");
        List<String> tput = cases(model, n -> n.startsWith("throughput-") || n.startsWith("durable-"));
        if (!tput.isEmpty()) {
            CategoryChart c = chart("Delivered messages per second (" + of + "; error bars reach the farther of min and max)", "msg/s", 1400, 650, false);
            c.getStyler().setXAxisLabelRotation(0);
            add(c, model, tput, "delivered_per_s", true);
            out.add(save(c, dir, "throughput.png"));
        }
        List<String> lat = cases(model, n -> n.startsWith("throughput-") || n.startsWith("durable-") || n.startsWith("latency"));
        if (!lat.isEmpty()) {
            List<CategoryChart> panels = new ArrayList<>();
            for (String p : List.of("50", "99")) {
                CategoryChart c = chart("End-to-end latency p" + p + " (" + of + "; log axis)", "ms", 1400, 520, true);
                add(c, model, lat, "latency_p" + p + "_ms", false);
                panels.add(c);
            }
            out.add(saveGrid(panels, 2, 1, dir, "latency.png"));
        }
        List<CategoryChart> small = new ArrayList<>();
        smallPanel(small, model, "connect", "connects_per_s", "Persistent connects per second", "connects/s");
        smallPanel(small, model, "resume", "drain_s", "Resume: time to drain the queued messages", "s");
        smallPanel(small, model, "idle", "rss_per_conn_kb", "Idle: broker RSS per connection", "KB");
        smallPanel(small, model, "expiry", "probe_connack_during_p99_ms", "Expiry: probe CONNACK p99 while sessions expire", "ms");
        smallPanel(small, model, "durable-qos1-one2one-64B", "broker_cpu_us_per_op", "Durable QoS 1: broker CPU per message", "µs");
        smallPanel(small, model, "startup", "listening_ms", "Start-up with offline sessions: start to MQTT listening", "ms");
        smallPanel(small, model, "startup", "rss_ready_mb", "Start-up with offline sessions: RSS when ready", "MB");
        if (!small.isEmpty()) {
            int cols = small.size() == 1 ? 1 : 2;
            out.add(saveGrid(small, (small.size() + cols - 1) / cols, cols, dir, "summary.png"));
        }
        return out;
    }

    private static List<String> cases(Report.Model model, Predicate<String> p) {
        return model.cases().keySet().stream().filter(p).toList();
    }

    private static void smallPanel(List<CategoryChart> panels, Report.Model model, String caseName, String metric,
                                   String title, String unit) {
        Report.Case c = model.cases().get(caseName);
        if (c == null || model.brokers().stream().noneMatch(b -> c.stat(b, metric) != null)) {
            return;
        }
        int runs = model.maxRuns();
        CategoryChart ch = chart(title + " (median of " + runs + ")", unit, 700, 420, false);
        ch.getStyler().setLegendVisible(false);
        ch.getStyler().setOverlapped(true); // one bar per broker: one series each, centred
        double top = 0;
        // Only the brokers with a figure (a Tether-only case gets one bar, not empty categories).
        List<String> present = model.brokers().stream().filter(b -> c.stat(b, metric) != null).toList();
        for (String b : present) {
            Report.Stat s = c.stat(b, metric);
            List<String> xs = new ArrayList<>(present);
            List<Double> ys = new ArrayList<>();
            List<Double> es = new ArrayList<>();
            for (String x : xs) {
                ys.add(x.equals(b) ? s.median() : 0.0); // XChart: no null values together with error bars
                es.add(x.equals(b) ? err(s) : 0.0);
            }
            CategorySeries series = ch.addSeries(b, xs, ys, es);
            series.setFillColor(COLORS.getOrDefault(b, OTHER));
            top = Math.max(top, s.median() + err(s));
        }
        linearRange(ch, top);
        panels.add(ch);
    }

    private static CategoryChart chart(String title, String yTitle, int w, int h, boolean log) {
        CategoryChart c = new CategoryChartBuilder().width(w).height(h).title(title).yAxisTitle(yTitle).build();
        Styler s = c.getStyler();
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setPlotBackgroundColor(Color.WHITE);
        c.getStyler().setPlotGridLinesColor(new Color(0xdd, 0xdd, 0xdd));
        c.getStyler().setPlotGridLinesStroke(new BasicStroke(1f));
        c.getStyler().setPlotBorderVisible(false);
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        c.getStyler().setLegendBorderColor(Color.LIGHT_GRAY);
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        c.getStyler().setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        c.getStyler().setAvailableSpaceFill(0.8);
        c.getStyler().setErrorBarsColor(Color.BLACK);
        c.getStyler().setErrorBarsColorSeriesColor(false);
        c.getStyler().setYAxisLogarithmic(log);
        c.getStyler().setYAxisDecimalPattern(log ? "#,##0.###" : "#,###.##");
        c.getStyler().setToolTipsEnabled(false);
        return c;
    }

    /** One series per broker over the given cases; missing values (and, on a log axis, zeros) are left out. */
    private static void add(CategoryChart c, Report.Model model, List<String> cases, String metric, boolean errorBars) {
        boolean log = c.getStyler().isYAxisLogarithmic();
        List<String> labels = cases.stream().map(Plots::label).toList();
        double lo = Double.MAX_VALUE;
        double hi = 0;
        double hiErr = 0;
        for (String b : model.brokers()) {
            List<Double> ys = new ArrayList<>();
            List<Double> es = new ArrayList<>();
            boolean any = false;
            for (String name : cases) {
                Report.Stat s = model.cases().get(name).stat(b, metric);
                boolean usable = s != null && !(log && s.median() <= 0);
                Double missing = errorBars ? Double.valueOf(0) : null; // XChart: no nulls together with error bars
                ys.add(usable ? Double.valueOf(s.median()) : missing);
                es.add(usable ? err(s) : 0.0);
                any |= usable;
                if (usable) {
                    lo = Math.min(lo, s.median());
                    hi = Math.max(hi, s.median());
                    hiErr = Math.max(hiErr, s.median() + (errorBars ? err(s) : 0));
                }
            }
            if (!any) {
                continue;
            }
            CategorySeries series = errorBars ? c.addSeries(b, labels, ys, es) : c.addSeries(b, labels, ys);
            series.setFillColor(COLORS.getOrDefault(b, OTHER));
        }
        if (!log) {
            linearRange(c, hiErr);
        } else if (hi > 0) {
            // Bars start at the axis minimum; XChart's default (0) is not allowed on a log axis.
            c.getStyler().setYAxisMin(Math.pow(10, Math.floor(Math.log10(lo))));
            c.getStyler().setYAxisMax(Math.pow(10, Math.ceil(Math.log10(hi * 1.01))));
        }
    }

    /** Linear axis from 0 to a round number above top (XChart alone puts a lone bar's top at the axis end). */
    private static void linearRange(CategoryChart c, double top) {
        if (!(top > 0)) {
            return;
        }
        double t = top * 1.08;
        double p = Math.pow(10, Math.floor(Math.log10(t)));
        double nice = p;
        for (double f : new double[] {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10}) {
            if (f * p >= t) {
                nice = f * p;
                break;
            }
        }
        c.getStyler().setYAxisMin(0.0);
        c.getStyler().setYAxisMax(nice);
    }

    private static double err(Report.Stat s) {
        return Math.max(s.max() - s.median(), s.median() - s.min());
    }

    /**
     * "throughput-qos1-fanout-4KiB" -> "qos1 fanout 4KiB"; "durable-qos1-one2one-64B" -> "durable qos1 1:1 64B";
     * "latency-qos1-5000per_s" -> "fixed 5000/s qos1".
     */
    static String label(String caseName) {
        if (caseName.startsWith("throughput-")) {
            return caseName.substring("throughput-".length()).replace('-', ' ').replace("one2one", "1:1");
        }
        if (caseName.startsWith("durable-")) {
            return caseName.replace('-', ' ').replace("one2one", "1:1");
        }
        if (caseName.startsWith("latency-")) {
            String[] p = caseName.split("-");
            return "fixed " + (p.length > 2 ? p[2].replace("per_s", "/s") : "") + " " + (p.length > 1 ? p[1] : "");
        }
        if (caseName.equals("latency")) {
            return "fixed rate qos1";
        }
        return caseName;
    }

    private static Path save(CategoryChart c, Path dir, String name) throws IOException {
        Path p = dir.resolve(name);
        BitmapEncoder.saveBitmap(c, p.toString(), BitmapEncoder.BitmapFormat.PNG);
        return p;
    }

    private static Path saveGrid(List<CategoryChart> charts, int rows, int cols, Path dir, String name) throws IOException {
        // Own grid (XChart's needs rows x cols charts exactly): blank cells stay white.
        int w = 0;
        int h = 0;
        for (CategoryChart c : charts) {
            w = Math.max(w, c.getWidth());
            h = Math.max(h, c.getHeight());
        }
        BufferedImage img = new BufferedImage(w * cols, h * rows, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        for (int i = 0; i < charts.size(); i++) {
            g.drawImage(BitmapEncoder.getBufferedImage(charts.get(i)), (i % cols) * w, (i / cols) * h, null);
        }
        g.dispose();
        Path p = dir.resolve(name);
        ImageIO.write(img, "png", p.toFile());
        return p;
    }
}
