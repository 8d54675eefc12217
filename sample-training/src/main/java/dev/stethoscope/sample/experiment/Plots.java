package dev.stethoscope.sample.experiment;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.io.File;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/** Line charts as PNG files with JFreeChart (headless). */
public final class Plots {
    private Plots() {
    }

    /** A named set of series: series name to (x, y) points, in insertion order. */
    public static final class Lines {
        final Map<String, XYSeries> series = new LinkedHashMap<>();

        /** Adds a point to series {@code name}; non-finite y values are skipped. */
        public Lines add(String name, double x, double y) {
            if (Double.isFinite(y)) {
                series.computeIfAbsent(name, k -> new XYSeries(k, false, true)).add(x, y);
            }
            return this;
        }
    }

    /** Writes a line chart to {@code file} (800x500 PNG). */
    public static void write(File file, String title, String xLabel, String yLabel, Lines lines) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYSeriesCollection data = new XYSeriesCollection();
        lines.series.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL,
                true, false, false);
        org.jfree.chart.plot.XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(java.awt.Color.WHITE);
        plot.setDomainGridlinePaint(java.awt.Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(java.awt.Color.LIGHT_GRAY);
        ChartUtils.saveChartAsPNG(file, chart, 800, 500);
    }
}
